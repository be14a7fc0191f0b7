// Which browser origins may call this node: one rule for REST (CORS), Socket.IO handshakes and
// /collab upgrades. A request without an Origin header is not a browser's cross-origin request
// (curl, a Node client, a same-origin GET) and is never refused by it.
import type http from 'node:http';

export interface OriginPolicy {
  /** Whether the request's Origin, if it has one, may use the API. */
  allows(req: { headers: http.IncomingHttpHeaders }): boolean;
  /** The origins allowed besides the node's own (for logs and docs). */
  origins(): readonly string[];
}

export interface OriginPolicyOptions {
  /** CORS_ORIGINS: exact origins; undefined: the run mode's default. */
  configured?: readonly string[];
  mode: 'embedded' | 'cluster';
  /** The port the node listens on, once it does (the embedded default names it). */
  port: () => number | undefined;
}

/**
 * The origins a node allows: CORS_ORIGINS when set; otherwise none in cluster mode (the console
 * is served by the node itself, same-origin), and in embedded mode the two names a developer's
 * browser uses for the local node, `http://localhost:<port>` and `http://127.0.0.1:<port>`.
 * A page served by this node (its Origin names the Host it asked) is always allowed: it is the
 * console, whatever name the node is reached by.
 */
export function createOriginPolicy({ configured, mode, port }: OriginPolicyOptions): OriginPolicy {
  const origins = (): readonly string[] => {
    if (configured) return configured;
    const p = port();
    return mode === 'embedded' && p ? [`http://localhost:${p}`, `http://127.0.0.1:${p}`] : [];
  };
  return {
    origins,
    allows(req) {
      const origin = req.headers.origin;
      if (origin === undefined) return true;
      return origins().includes(origin) || sameOrigin(origin, req.headers.host);
    },
  };
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === host.toLowerCase();
  } catch {
    return false; // `null` (a sandboxed page, a file://) and malformed origins name no host
  }
}

/** An Origin as browsers send it: scheme, host and port only (`https://app.example.com`). */
export function isExactOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}
