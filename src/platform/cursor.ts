// Opaque page cursors: a small JSON object, base64url-encoded. A cursor is taken back only when
// it parses and its reader's check accepts it; anything else is a 400 saying which list it is not for.
import { BadRequest } from './errors.js';

export function encodeCursor(c: object): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

export function decodeCursor<T>(raw: string, valid: (c: T) => boolean, refusal: string): T {
  try {
    const c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as T;
    if (c && typeof c === 'object' && valid(c)) return c;
  } catch {
    // fall through
  }
  throw BadRequest(refusal);
}
