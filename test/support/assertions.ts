// Assertions shared by the service-level suites.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ServiceContext } from '../../src/platform/context.js';
import { toAppError, type AppError } from '../../src/platform/errors.js';

/** The call fails with this status (and, when given, an issue at exactly this path); returns the error. */
export async function rejectsWith(promise: Promise<unknown>, status: number, path?: string): Promise<AppError> {
  try {
    await promise;
  } catch (raw) {
    const err = toAppError(raw);
    assert.equal(err?.status, status, `expected ${status}, got ${String(err?.status)}: ${String(raw)}`);
    if (path)
      assert.ok(
        err!.errors?.some((e) => e.path === path),
        `expected an issue at ${path}: ${JSON.stringify(err!.errors)}`,
      );
    return err!;
  }
  assert.fail(`expected a ${status}, but the call succeeded`);
}

/** The same actor, speaking through a read-only API key. */
export function readOnlyKey(ctx: ServiceContext): ServiceContext {
  return { ...ctx, actor: { ...ctx.actor, type: 'api_key', id: randomUUID(), canWrite: false } };
}
