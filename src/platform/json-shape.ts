// Bounds on a parsed JSON value that must hold before anything recurses into it (zod, JSON.stringify):
// how deep it nests, and no key naming an object's prototype machinery. Walked with an explicit
// stack, so a value of any depth is safe to check.

/** Keys refused at any depth: assigning them to a plain object changes its prototype, or shadows it. */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export interface JsonShapeIssue {
  kind: 'depth' | 'reserved_key';
  path: (string | number)[];
  message: string;
}

/**
 * The first place where `value` nests more than `maxDepth` objects and arrays (the outermost
 * counts as 1), or has an own key in RESERVED_KEYS; undefined when there is none.
 */
export function jsonShapeIssue(value: unknown, maxDepth: number): JsonShapeIssue | undefined {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: node, path } = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (path.length >= maxDepth) {
      return { kind: 'depth', path, message: `nests deeper than ${maxDepth} levels of objects and arrays` };
    }
    // Children are pushed last-first, so the first offending one in document order is reported.
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push({ value: node[i], path: [...path, i] });
      continue;
    }
    const keys = Object.keys(node);
    const reserved = keys.find((k) => RESERVED_KEYS.has(k));
    if (reserved !== undefined) {
      return { kind: 'reserved_key', path: [...path, reserved], message: `'${reserved}' is a reserved key and is not accepted` };
    }
    for (let i = keys.length - 1; i >= 0; i--) {
      stack.push({ value: (node as Record<string, unknown>)[keys[i]], path: [...path, keys[i]] });
    }
  }
  return undefined;
}
