// Password hashing with bcrypt (cost 12) off the event loop: @node-rs/bcrypt hashes on libuv's
// thread pool (its prebuilt binary comes from the npm registry as an optional platform package), so
// a burst of logins never stalls requests that do not hash. At most MAX_CONCURRENT_HASHES run at
// once per node; further ones queue, so hashing can never take every pool thread from the file
// system and DNS work that shares it. Hashes made earlier ($2b$, by the pure-JS library used before) keep verifying.
import { hash, verify } from '@node-rs/bcrypt';

export const BCRYPT_COST = 12;
export const MAX_CONCURRENT_HASHES = 2;

let running = 0;
const waiting: (() => void)[] = [];

async function bounded<T>(work: () => Promise<T>): Promise<T> {
  // A finishing hash hands its slot straight to the next in line, so the bound is never exceeded.
  if (running < MAX_CONCURRENT_HASHES) running++;
  else await new Promise<void>((resolve) => waiting.push(resolve));
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

export function hashPassword(plain: string): Promise<string> {
  return bounded(() => hash(plain, BCRYPT_COST));
}

export function verifyPassword(plain: string, stored: string | null): Promise<boolean> {
  // Compare against a fixed hash when there is none, so timing doesn't reveal unknown users.
  return bounded(() => verify(plain, stored ?? DUMMY_HASH));
}

const DUMMY_HASH = '$2b$12$C6UzMDM.H6dfI/f/IKcEeO5dQ6v4y0o1z5m6Qm0lL0k7b4nD0b3Ra';
