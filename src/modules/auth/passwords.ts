// bcrypt with cost 12. bcryptjs: pure JS, nothing to compile on install.
import bcrypt from 'bcryptjs';

export const BCRYPT_COST = 12;

export function hashPassword(plain: string): Promise<string> {
  return bcrypt.hash(plain, BCRYPT_COST);
}

export function verifyPassword(plain: string, hash: string | null): Promise<boolean> {
  // Compare against a fixed hash when there is none, so timing doesn't reveal unknown users.
  return bcrypt.compare(plain, hash ?? DUMMY_HASH);
}

const DUMMY_HASH = '$2b$12$C6UzMDM.H6dfI/f/IKcEeO5dQ6v4y0o1z5m6Qm0lL0k7b4nD0b3Ra';
