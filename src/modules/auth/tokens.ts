// Login tokens: HS256 JWTs carrying the user, the tenant and the user's token version, with exp,
// iat, iss and aud, all required. The user behind one is re-read unless the principal cache holds
// it (a few seconds, dropped at once when the user changes); a token whose version is not the
// user's current one (bumped by logout, a password change, deactivation) no longer signs in.
import { createSecretKey, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import type { Config } from '../../platform/config.js';

/** One hour: a console stays signed in by renewing (POST /auth/refresh, the socket's refresh_token). */
export const TOKEN_TTL_SECONDS = 60 * 60;
/** Who issues login tokens and who they are for: a token of another issuer or audience is refused. */
export const TOKEN_ISSUER = 'appinventory-live';
export const TOKEN_AUDIENCE = 'appinventory-live-api';

/** `ver`: the user's token version when the token was issued. */
export interface TokenClaims {
  sub: string;
  tid: string;
  ver: number;
}

/** Verified claims with the token's expiry (ms since the epoch). */
export interface VerifiedClaims extends TokenClaims {
  expiresAt: number;
}

export class TokenSigner {
  // A KeyObject once, rather than the string on every verify: jsonwebtoken otherwise first tries
  // (and fails) to parse the string as a public key on every request.
  private readonly secret: KeyObject;

  constructor(secret: string) {
    this.secret = createSecretKey(Buffer.from(secret, 'utf8'));
  }

  sign(claims: TokenClaims, ttlSeconds = TOKEN_TTL_SECONDS): string {
    const { sub, tid, ver } = claims;
    // jti: two tokens issued in the same second for the same user are still two tokens.
    return jwt.sign({ tid, ver }, this.secret, {
      algorithm: 'HS256',
      expiresIn: ttlSeconds,
      subject: sub,
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      jwtid: randomUUID(),
    });
  }

  /** The claims of a valid, unexpired token with every required claim, or null. */
  verify(token: string): VerifiedClaims | null {
    try {
      const payload = jwt.verify(token, this.secret, { algorithms: ['HS256'], issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE });
      // jsonwebtoken checks exp only when it is there: a token without it (or iat) never expires, so it is refused.
      if (
        typeof payload === 'object' &&
        typeof payload.sub === 'string' &&
        typeof payload.tid === 'string' &&
        Number.isSafeInteger(payload.ver) &&
        typeof payload.exp === 'number' &&
        typeof payload.iat === 'number'
      ) {
        return { sub: payload.sub, tid: payload.tid, ver: payload.ver as number, expiresAt: payload.exp * 1000 };
      }
    } catch {
      // expired, malformed, forged, another issuer or audience: all the same to the caller
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
