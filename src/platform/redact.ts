// Secrets that travel in URLs: the `token` query parameter of `/collab` and Socket.IO handshakes
// (browsers cannot set headers on a WebSocket) and the like. Whatever records a URL (span
// attributes) keeps its shape but never the value.
export const REDACTED = '[REDACTED]';

/** Query parameters whose value is a credential, compared case-insensitively. */
export const SECRET_QUERY_PARAMETERS: readonly string[] = ['token', 'access_token', 'refresh_token', 'api_key', 'apikey', 'key'];

const SECRET = new Set(SECRET_QUERY_PARAMETERS.map((p) => p.toLowerCase()));

/** A query string (with or without its leading `?`) with the value of every secret parameter replaced. */
export function redactQuery(query: string): string {
  const question = query.startsWith('?') ? '?' : '';
  const body = question ? query.slice(1) : query;
  if (body === '') return query;
  return question + body.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    let decoded = name;
    try {
      decoded = decodeURIComponent(name.replace(/\+/g, ' '));
    } catch {
      // Not valid percent-encoding: compared as written.
    }
    return eq >= 0 && SECRET.has(decoded.toLowerCase()) ? `${name}=${REDACTED}` : pair;
  }).join('&');
}

/** A URL or request target (`/collab/services/1?token=…`) with the values of secret query parameters replaced. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const hash = url.indexOf('#', q);
  const query = hash < 0 ? url.slice(q) : url.slice(q, hash);
  return url.slice(0, q) + redactQuery(query) + (hash < 0 ? '' : url.slice(hash));
}
