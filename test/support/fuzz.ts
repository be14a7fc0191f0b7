// Request generators for the OpenAPI fuzz suite (test/fuzz.test.ts): fast-check arbitraries built
// from the JSON schemas of the served document, for values that follow the schema ("valid-ish",
// so requests reach the services) and for mutations of them (wrong types, boundary values,
// unknown keys, deep nesting, huge strings, hostile unicode, bad ids and query parameters).
import fc from 'fast-check';

export type JsonSchema = Record<string, any>;

export interface OpenApiOperation {
  method: string;
  /** OpenAPI path: /api/v1/services/{id} */
  path: string;
  public: boolean;
  pathParams: string[];
  query: { name: string; schema: JsonSchema }[];
  body?: JsonSchema;
  /** The YAML media type the body is documented as (a descriptor import), when it is not JSON. */
  yamlBody?: string;
}

/** Every path × method of the document. */
export function operationsOf(doc: { paths: Record<string, Record<string, JsonSchema>> }): OpenApiOperation[] {
  const ops: OpenApiOperation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters ?? []) as { name: string; in: string; schema: JsonSchema }[];
      ops.push({
        method: method.toUpperCase(),
        path,
        public: Array.isArray(op.security) && op.security.length === 0,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        query: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema })),
        body: op.requestBody?.content?.['application/json']?.schema,
        yamlBody: Object.keys(op.requestBody?.content ?? {}).find((type) => type.includes('yaml')),
      });
    }
  }
  return ops;
}

/** Ids of real records, by the path segment before the parameter (services, permissions, widgets) and all of them. */
export interface IdPools {
  bySegment: Record<string, string[]>;
  all: string[];
}

const HUGE = 'x'.repeat(300 * 1024); // past BODY_MAX_BYTES on its own
const NASTY_STRINGS = [
  '',
  ' ',
  '\t\n',
  'NaN',
  'Infinity',
  '-Infinity',
  '-0',
  '0',
  '-1',
  '1e309',
  '9007199254740993',
  '0x10',
  'null',
  'true',
  'undefined',
  '[]',
  '{}',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\ufeff',
  '\u202eevil\u202c',
  'שלום עולם',
  '👩‍👩‍👧‍👦'.repeat(40),
  '\u0301\u0301\u0301',
  "'; drop table services; --",
  '%s%n%x',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  '${7*7}',
  'javascript:alert(1)',
  'http://',
  'ftp://example.com',
  '2024-02-30T00:00:00Z',
  '9999-12-31T23:59:59Z',
  '0000-01-01T00:00:00Z',
  '1970-01-01T00:00:00+25:00',
  'not a date',
  '\\',
  '"',
  'a'.repeat(70_000),
];
const NASTY_NUMBERS = [0, -1, 1, -0, 0.5, -0.5, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, 2 ** 63, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER + 2];
const BAD_UUIDS = [
  'not-a-uuid',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '123',
  '',
  '6f1c1e1e-0000-4000-8000-00000000000',
  '6f1c1e1e-0000-4000-8000-0000000000000',
  '6F1C1E1E-0000-4000-8000-000000000000',
  '6f1c1e1e00004000800000000000000a',
  '{6f1c1e1e-0000-4000-8000-000000000000}',
  '6f1c1e1e-0000-4000-8000-00000000000g',
  '..',
  '%2e%2e',
  '%00',
  '%ff%fe',
  '%ED%A0%80',
  '%',
  '%zz',
  "1' or '1'='1",
  'a'.repeat(5000),
  '-1',
  '0',
  'null',
];

/** JSON text of a value nested `depth` deep (objects and arrays alternating). */
export function nestedJson(depth: number, leaf = '1'): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += i % 2 ? '[' : '{"k":';
    close = (i % 2 ? ']' : '}') + close;
  }
  return `${open}${leaf}${close}`;
}

// Deep values travel as a marker that bodyText() expands in the JSON text, so that neither the
// generators nor fast-check's printer recurse through thousands of levels.
const DEEP = '\u0001deep:';
const deepValue = fc.constantFrom(10, 31, 33, 200, 5000).map((d) => `${DEEP}${d}`);

/** The JSON text of a generated value, deep markers expanded. */
export function bodyText(value: unknown): string {
  return (JSON.stringify(value) ?? 'null').replace(/"\\u0001deep:(\d+)"/g, (_, d: string) => nestedJson(Number(d)));
}
/** Anything JSON at all, including what no schema expects. */
const wildValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(...NASTY_STRINGS),
  fc.constantFrom<unknown>(...NASTY_NUMBERS),
  fc.constantFrom<unknown>(null, true, false, [], {}, [null], [[]], { '': 1 }, { __proto__x: 1 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.double(),
  fc.integer(),
  deepValue,
  fc.jsonValue({ maxDepth: 3 }),
);

/** Boundary values of one schema: lengths at and one past the bounds, numbers at and past the range. */
function boundaries(s: JsonSchema): unknown[] {
  const out: unknown[] = [];
  if (s.type === 'string') {
    if (typeof s.maxLength === 'number') out.push('m'.repeat(Math.min(s.maxLength, 120_000)), 'm'.repeat(Math.min(s.maxLength + 1, 120_001)));
    if (typeof s.minLength === 'number') out.push('m'.repeat(s.minLength), 'm'.repeat(Math.max(0, s.minLength - 1)));
  }
  if (s.type === 'integer' || s.type === 'number') {
    for (const b of [s.minimum, s.maximum, s.exclusiveMinimum, s.exclusiveMaximum]) {
      if (typeof b === 'number') out.push(b, b - 1, b + 1, b + 0.5);
    }
  }
  if (s.type === 'array') {
    const item = s.items ? 'x' : null;
    if (typeof s.maxItems === 'number') out.push(Array(Math.min(s.maxItems + 1, 2000)).fill(item));
    if (typeof s.minItems === 'number' && s.minItems > 0) out.push([]);
  }
  for (const alt of [...(s.anyOf ?? []), ...(s.oneOf ?? [])]) out.push(...boundaries(alt));
  return out;
}

/** A value that follows the schema most of the time (formats and real ids where they matter). */
export function validish(s: JsonSchema, ids: IdPools, depth = 0, hint = ''): fc.Arbitrary<unknown> {
  if (!s || typeof s !== 'object' || Object.keys(s).filter((k) => k !== '$schema').length === 0) return fc.jsonValue({ maxDepth: 2 });
  if ('const' in s) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...s.enum);
  const alts = s.anyOf ?? s.oneOf;
  if (Array.isArray(alts)) return fc.oneof(...alts.map((a: JsonSchema) => validish(a, ids, depth, hint)));
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return fc.integer({ min: s.minimum ?? -1_000_000, max: s.maximum ?? 1_000_000 });
    case 'number':
      return fc.double({ min: s.minimum ?? -1e9, max: s.maximum ?? 1e9, noNaN: true });
    case 'string':
      return validString(s, ids, hint);
    case 'array': {
      const max = Math.min(s.maxItems ?? 5, depth > 1 ? 2 : 5);
      return fc.array(validish(s.items ?? {}, ids, depth + 1, hint), { minLength: Math.min(s.minItems ?? 0, max), maxLength: max });
    }
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, JsonSchema>;
      const required = new Set<string>(s.required ?? []);
      const shape: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(props)) shape[k] = validish(v, ids, depth + 1, k);
      if (Object.keys(props).length === 0 && s.additionalProperties) {
        const keys = s.propertyNames ? validString(s.propertyNames, ids) : fc.string({ minLength: 1, maxLength: 10 });
        const values = s.additionalProperties === true ? fc.jsonValue({ maxDepth: 2 }) : validish(s.additionalProperties, ids, depth + 1);
        return fc.dictionary(keys as fc.Arbitrary<string>, values, { maxKeys: 4 });
      }
      return fc.record(shape, { requiredKeys: [...required].filter((k) => k in shape) });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** The collection a field names (`team_id` → teams, `depends_on_service_ids` → services). */
function collectionOf(field: string): string | undefined {
  const word = /([a-z]+)_ids?$/.exec(field)?.[1];
  if (!word) return undefined;
  return { person: 'people', repository: 'repositories', parent: 'comments' }[word] ?? `${word}s`;
}

function validString(s: JsonSchema, ids: IdPools, hint = ''): fc.Arbitrary<string> {
  const min = s.minLength ?? 0;
  const max = Math.min(s.maxLength ?? 40, 60);
  switch (s.format) {
    case 'uuid': {
      // Mostly a real record of the collection the field names, so that writes get accepted.
      const own = ids.bySegment[collectionOf(hint) ?? ''] ?? [];
      return fc.oneof(
        ...(own.length ? [{ arbitrary: fc.constantFrom(...own), weight: 6 }] : []),
        { arbitrary: fc.constantFrom(...ids.all), weight: 2 },
        { arbitrary: fc.uuid(), weight: 1 },
      );
    }
    case 'email':
      return fc.emailAddress().filter((e) => e.length <= (s.maxLength ?? 320) && new RegExp(s.pattern ?? '.').test(e));
    case 'date-time':
      return fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
    case 'uri':
      return fc.webUrl();
  }
  if (s.pattern) {
    return fc.stringMatching(new RegExp(s.pattern)).filter((v) => v.length >= min && v.length <= (s.maxLength ?? Infinity));
  }
  return fc.string({ unit: 'grapheme', minLength: Math.min(min, max), maxLength: Math.max(min, max) });
}

/** A value that breaks the schema somewhere: the whole value, or one property or item of it. */
export function mutated(s: JsonSchema, ids: IdPools): fc.Arbitrary<unknown> {
  const local = boundaries(s);
  const options: fc.Arbitrary<unknown>[] = [wildValue];
  if (local.length) options.push(fc.constantFrom(...local));
  const props = (s?.properties ?? {}) as Record<string, JsonSchema>;
  const keys = Object.keys(props);
  if (s?.type === 'object' && keys.length) {
    const base = validish(s, ids) as fc.Arbitrary<Record<string, unknown>>;
    options.push(
      // One property replaced by a mutation of its own schema.
      fc.tuple(base, fc.constantFrom(...keys)).chain(([obj, key]) => mutated(props[key], ids).map((v) => ({ ...obj, [key]: v }))),
      // An unknown key (some that mean something to JavaScript or to us).
      fc
        .tuple(base, fc.constantFrom('bogus', 'tenant_id', 'id', 'row_version', 'deleted_at', '__proto__', 'constructor', 'prototype', '', '\u0000'), wildValue)
        .map(([obj, key, v]) => {
          // Parsed from text so that `__proto__` is an own key, as a JSON body would make it.
          const rest = JSON.stringify(obj).slice(1);
          return JSON.parse(`{${JSON.stringify(key)}:${JSON.stringify(v ?? null)}${rest === '}' ? '' : ','}${rest}`);
        }),
      // A required key dropped.
      fc.tuple(base, fc.constantFrom(...keys)).map(([obj, key]) => {
        const copy = { ...obj };
        delete copy[key];
        return copy;
      }),
    );
  }
  if (s?.type === 'array' && s.items) {
    options.push(fc.tuple(validish(s, ids) as fc.Arbitrary<unknown[]>, mutated(s.items, ids)).map(([arr, bad]) => [...arr, bad]));
  }
  for (const alt of [...(s?.anyOf ?? []), ...(s?.oneOf ?? [])] as JsonSchema[]) {
    if (alt.type === 'object' || alt.type === 'array') options.push(mutated(alt, ids));
  }
  return fc.oneof(...options);
}

/** One path parameter: a real record's id (of this collection or another), a random uuid, or garbage. */
export function pathParam(segment: string, ids: IdPools): fc.Arbitrary<string> {
  const own = ids.bySegment[segment] ?? [];
  return fc.oneof(
    ...(own.length ? [{ arbitrary: fc.constantFrom(...own).map(encodeURIComponent), weight: 6 }] : []),
    { arbitrary: fc.constantFrom(...ids.all), weight: 1 },
    { arbitrary: fc.uuid(), weight: 1 },
    { arbitrary: fc.constantFrom(...BAD_UUIDS).map((v) => (v.includes('%') ? v : encodeURIComponent(v))), weight: 2 },
  );
}

/** Percent-encodes any string, lone surrogates included (as their raw, invalid UTF-8 bytes). */
export function encodeAny(value: string): string {
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (code >= 0xd800 && code <= 0xdfff) {
      out += `%${(0xe0 | (code >> 12)).toString(16)}%${(0x80 | ((code >> 6) & 0x3f)).toString(16)}%${(0x80 | (code & 0x3f)).toString(16)}`;
    } else out += encodeURIComponent(ch);
  }
  return out;
}

const garbageCursor = fc.oneof(
  fc.constantFrom(
    '',
    'abc',
    '!!!',
    'null',
    'e30',
    'W10',
    'bnVsbA',
    'eyJ4IjoxfQ',
    Buffer.from('{"id":"x","v":"y","total":-1}').toString('base64url'),
    Buffer.from(JSON.stringify({ id: '00000000-0000-0000-0000-000000000000', v: 'not a date', total: 'x' })).toString('base64url'),
    Buffer.from(JSON.stringify([1, 2, 3])).toString('base64url'),
    Buffer.from('x'.repeat(5000)).toString('base64url'),
    '%',
    '%ff',
  ),
  fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v)).toString('base64url')),
  fc.base64String({ maxLength: 60 }),
);

/** A query string: some of the declared parameters (valid or not), repeated or unknown ones, raw garbage. */
export function queryString(params: { name: string; schema: JsonSchema }[], ids: IdPools): fc.Arbitrary<string> {
  const valid = (p: { name: string; schema: JsonSchema }) => validish(p.schema, ids, 0, p.name).map((v) => `${p.name}=${encodeAny(String(v))}`);
  const one = (p: { name: string; schema: JsonSchema }) =>
    fc.oneof(
      { arbitrary: valid(p), weight: 4 },
      (p.name === 'cursor' ? garbageCursor : fc.constant('')).map((v) => `${p.name}=${encodeAny(String(v))}`),
      fc
        .constantFrom(...NASTY_STRINGS.filter((v) => v.length < 1000), ...BAD_UUIDS.filter((v) => v.length < 1000), ...NASTY_NUMBERS.map(String))
        .map((v) => `${p.name}=${v.startsWith('%') ? v : encodeAny(v)}`),
      fc.tuple(validish(p.schema, ids), validish(p.schema, ids)).map(([a, b]) => `${p.name}=${encodeAny(String(a))}&${p.name}=${encodeAny(String(b))}`),
      fc.constant(`${p.name}[a]=1&${p.name}[b][c]=2`),
      fc.constant(`${p.name}`),
    );
  const extras = fc.constantFrom('bogus=1', '__proto__[x]=1', 'constructor[prototype][x]=1', '%=%', 'a'.repeat(3000) + '=1', '=', '&&&', 'q=%E0%A4%A');
  const some = (each: typeof one) => fc.subarray(params).chain((chosen) => (chosen.length ? fc.tuple(...chosen.map(each)) : fc.constant([] as string[])));
  // Half the queries follow the schema (so lists answer), half break it somewhere.
  return fc
    .oneof(
      some(valid),
      fc
        .tuple(some(one), fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, { arbitrary: extras, weight: 1 }))
        .map(([parts, extra]) => [...parts, ...(extra ? [extra] : [])]),
    )
    .map((all) => (all.length ? `?${all.join('&')}` : ''));
}

export interface FuzzBody {
  /** JSON to send, or a raw text body. */
  json?: unknown;
  raw?: string;
  contentType?: string;
}

/** A request body for an operation: mostly schema-shaped or mutated JSON, sometimes no JSON at all. */
export function requestBody(schema: JsonSchema | undefined, ids: IdPools): fc.Arbitrary<FuzzBody | undefined> {
  const rawGarbage = fc
    .oneof(
      fc.constantFrom(
        '{',
        '{"a":',
        'null',
        '"x"',
        '[]',
        '{"a":1,}',
        "{'a':1}",
        '\u0000',
        '{"a":"\\ud800"}',
        '{"a":1e999999}',
        `{"a":${'1'.repeat(5000)}}`,
        `${'['.repeat(100_000)}`,
        `{"a":"${HUGE}"}`,
      ),
      fc.string({ unit: 'binary', maxLength: 50 }),
    )
    .map((raw): FuzzBody => ({ raw }));
  const wrongType = fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'application/xml');
  if (!schema) {
    return fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 6 },
      { arbitrary: wildValue.map((json): FuzzBody => ({ json })), weight: 2 },
      { arbitrary: rawGarbage, weight: 1 },
    );
  }
  return fc.oneof(
    { arbitrary: validish(schema, ids).map((json): FuzzBody => ({ json })), weight: 6 },
    { arbitrary: mutated(schema, ids).map((json): FuzzBody => ({ json })), weight: 5 },
    { arbitrary: rawGarbage, weight: 1 },
    { arbitrary: fc.tuple(validish(schema, ids), wrongType).map(([json, contentType]): FuzzBody => ({ json, contentType })), weight: 1 },
    { arbitrary: fc.constant(undefined), weight: 1 },
  );
}

/** Descriptor files: valid ones, invalid ones, aliases, syntax errors, random text, and JSON instead. */
export function yamlRequestBody(contentType: string): fc.Arbitrary<FuzzBody | undefined> {
  const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
  const text = fc.oneof(
    name.map((n) => `apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: fz-${n}\n`),
    name.map((n) => `kind: Component\nmetadata: {name: fz-${n}}\nspec: {type: service, owner: group:nobody, dependsOn: [resource:none]}\n`),
    fc
      .tuple(name, fc.constantFrom('Component', 'API', 'Resource', 'System', 'User', 'Domain', '', '1'))
      .map(([n, kind]) => `kind: ${kind}\nmetadata: {name: ${n}}\n`),
    fc.constantFrom('a: &x [1]\nb: *x\n', '---\n---\n', 'kind: [', '\t- x', '? : :', 'kind: Group\nkind: User\n', `${'- '.repeat(2000)}x`),
    fc.string({ maxLength: 200 }),
  );
  return fc.oneof(
    { arbitrary: text.map((raw): FuzzBody => ({ raw, contentType })), weight: 6 },
    { arbitrary: wildValue.map((json): FuzzBody => ({ json })), weight: 1 },
    { arbitrary: fc.constant(undefined), weight: 1 },
  );
}
