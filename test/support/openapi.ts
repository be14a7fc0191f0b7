// Reading the served OpenAPI document in tests: `$ref`s to its components resolved, so suites can
// walk schemas, parameters and responses as if everything were written inline.

type Json = any;

function pointer(doc: Json, ref: string): Json {
  if (!ref.startsWith('#/')) throw new Error(`only local references are expected, got ${ref}`);
  return ref
    .slice(2)
    .split('/')
    .reduce((node, part) => {
      const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
      if (node === undefined || !(key in node)) throw new Error(`unresolved reference ${ref}`);
      return node[key];
    }, doc);
}

/**
 * The document with every local `$ref` replaced by a copy of its target (siblings of the `$ref`
 * kept). A reference back into a schema being expanded (a recursive schema) stays a `$ref`.
 */
export function dereference<T>(doc: T): T {
  const expand = (node: Json, active: Set<string>): Json => {
    if (Array.isArray(node)) return node.map((item) => expand(item, active));
    if (!node || typeof node !== 'object') return node;
    if (typeof node.$ref === 'string') {
      const { $ref, ...siblings } = node;
      if (active.has($ref)) return node;
      const target = expand(pointer(doc, $ref), new Set([...active, $ref]));
      return { ...target, ...expand(siblings, active) };
    }
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, expand(v, active)]));
  };
  return expand(doc, new Set());
}
