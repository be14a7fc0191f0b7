// What a new password must be, wherever one is set (signup, user create, password change): at
// least 12 characters; at most 72 bytes of UTF-8, because bcrypt ignores every byte after the
// 72nd and a longer password would silently share its hash with its own prefix; and not easy to
// guess, by zxcvbn's estimate over the common-password and diceware lists it ships (score 3: at
// least 10^8 guesses). Existing hashes are not re-judged: login takes any stored password.
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary } from '@zxcvbn-ts/language-common';

export const PASSWORD_MIN_CHARS = 12;
export const PASSWORD_MAX_BYTES = 72;
export const PASSWORD_MIN_SCORE = 3;
export const PASSWORD_TOO_LONG = `must be at most ${PASSWORD_MAX_BYTES} bytes of UTF-8 (bcrypt ignores what follows)`;

// Built on first use: ranking the dictionaries takes ~0.1 s, which nodes that never set a password
// need not pay. Levenshtein matching stays off: it costs ~100 ms per check against these lists.
let estimator: ZxcvbnFactory | undefined;

function strength(password: string): number {
  estimator ??= new ZxcvbnFactory({ dictionary, graphs: adjacencyGraphs, useLevenshteinDistance: false });
  return estimator.check(password).score;
}

/**
 * Why `password` may not be set, or undefined when it may. Its length in characters is the
 * schema's to check (min/max, so the OpenAPI document shows them); this is the rest.
 */
export function passwordProblem(password: string): string | undefined {
  if (Buffer.byteLength(password, 'utf8') > PASSWORD_MAX_BYTES) return PASSWORD_TOO_LONG;
  if (strength(password) < PASSWORD_MIN_SCORE) {
    return 'is too easy to guess (a common password, a word or a pattern); choose a longer, less predictable one';
  }
  return undefined;
}
