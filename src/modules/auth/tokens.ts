// Login tokens: HS256 JWTs carrying the user and tenant. The user behind one is re-read unless the
// principal cache holds it (a few seconds, dropped at once when the user changes).
import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import type { Config } from '../../platform/config.js';

export const TOKEN_TTL_SECONDS = 12 * 60 * 60;

export interface TokenClaims { sub: string; tid: string }

/** Verified claims with the token's expiry (ms since the epoch). */
export interface VerifiedClaims extends TokenClaims { expiresAt: number }

export class TokenSigner {
  // A KeyObject once, rather than the string on every verify: jsonwebtoken otherwise first tries
  // (and fails) to parse the string as a public key on every request.
  private readonly secret: KeyObject;

  constructor(secret: string) {
    this.secret = createSecretKey(Buffer.from(secret, 'utf8'));
  }

  sign(claims: TokenClaims): string {
    return jwt.sign(claims, this.secret, { algorithm: 'HS256', expiresIn: TOKEN_TTL_SECONDS });
  }

  /** The claims of a valid, unexpired token, or null. */
  verify(token: string): VerifiedClaims | null {
    try {
      const payload = jwt.verify(token, this.secret, { algorithms: ['HS256'] });
      if (typeof payload === 'object' && typeof payload.sub === 'string' && typeof payload.tid === 'string') {
        return { sub: payload.sub, tid: payload.tid, expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : Infinity };
      }
    } catch {
      // expired, malformed or forged: all the same to the caller
    }
    return null;
  }
}

/**
 * JWT_SECRET when given. In embedded mode a secret is generated once and kept in the data dir so
 * tokens survive restarts; a cluster must share one secret, so it has to be configured.
 */
export function resolveJwtSecret(config: Config): string {
  if (config.jwtSecret) return config.jwtSecret;
  if (config.mode === 'cluster') {
    throw new Error('JWT_SECRET must be set in cluster mode (every node must verify every token).');
  }
  const file = path.join(config.dataDir, 'jwt-secret');
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    const secret = randomBytes(48).toString('base64url');
    fs.mkdirSync(config.dataDir, { recursive: true });
    fs.writeFileSync(file, secret, { mode: 0o600 });
    return secret;
  }
}
