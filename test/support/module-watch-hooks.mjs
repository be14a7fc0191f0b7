// The loader hooks of module-watch.mjs (they run on the loader thread).
import { appendFileSync } from 'node:fs';

let file;
let pattern;

export function initialize(data) {
  file = data.file;
  pattern = data.pattern;
}

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  if (file && pattern && resolved.url.includes(pattern)) appendFileSync(file, `${resolved.url}\n`);
  return resolved;
}
