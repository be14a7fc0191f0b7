// What must never be written out (log lines, span attributes): credentials in headers, fields and
// URL query parameters. One list, so every place that writes a request down hides the same things.

export const REDACTED = '[REDACTED]';

/** Request and response headers that carry credentials (lower case, as Node gives them). */
export const SECRET_HEADERS: readonly string[] = ['authorization', 'cookie', 'set-cookie', 'proxy-authorization', 'x-api-key'];

/** Field names whose values are credentials, wherever they appear in a logged object. */
export const SECRET_FIELDS: readonly string[] = [
  'password',
  'new_password',
  'current_password',
  'token',
  'access_token',
  'refresh_token',
  'api_key',
  'apiKey',
  'secret',
  'jwt_secret',
  'jwtSecret',
  'client_secret',
  'authorization',
  'cookie',
];

/** Query parameters that carry credentials: `/collab/…?token=…` and Socket.IO handshakes (lower case; matched case-insensitively). */
export const SECRET_QUERY_PARAMETERS: readonly string[] = ['token', 'access_token', 'refresh_token', 'api_key', 'apikey', 'password', 'secret'];
const SECRET_PARAMS = new Set(SECRET_QUERY_PARAMETERS);

function paramName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' ')).toLowerCase();
  } catch {
    return raw.toLowerCase();
  }
}

/**
 * The URL (absolute, or a path with its query) with the value of every credential query parameter
 * replaced: `/collab/services/1?token=abc&x=1` → `/collab/services/1?token=[REDACTED]&x=1`.
 * Everything else is kept byte for byte.
 */
export function redactUrl(url: string): string {
  const query = url.indexOf('?');
  if (query < 0) return url;
  const hash = url.indexOf('#', query);
  const end = hash < 0 ? url.length : hash;
  const pairs = url
    .slice(query + 1, end)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      const name = pair.slice(0, eq);
      return SECRET_PARAMS.has(paramName(name)) ? `${name}=${REDACTED}` : pair;
    });
  return `${url.slice(0, query + 1)}${pairs.join('&')}${url.slice(end)}`;
}
