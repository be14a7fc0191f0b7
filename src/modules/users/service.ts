// Tenant users, managed by admins. Every change is audited and announced like any other record,
// so deactivations reach the live-event and co-editing layers.
import type { ServiceContext } from '../../platform/context.js';
import { Conflict, UnprocessableEntity } from '../../platform/errors.js';
import { RecordTable, diff, parseInput, type WriteOptions } from '../../platform/records.js';
import { scoped } from '../../platform/tenancy.js';
import type { WriteRunner, WriteScope } from '../../platform/write.js';
import { authorize } from '../access/policy.js';
import { hashPassword } from '../auth/passwords.js';
import { Person } from '../catalog/model.js';
import { User, presentUser, type UserView } from './model.js';
import { userCreate, userUpdate } from './schemas.js';

const users = new RecordTable<User>(User, 'user', false);

export class UserService {
  constructor(private readonly writes: WriteRunner) {}

  async list(ctx: ServiceContext, opts: { includeDeleted?: boolean } = {}): Promise<UserView[]> {
    await authorize(ctx, 'read', { type: 'users' });
    if (opts.includeDeleted) await authorize(ctx, 'read_deleted', { type: 'users' });
    const rows = await scoped(User, ctx, opts).orderBy('email').limit(1000);
    return rows.map(presentUser);
  }

  async get(ctx: ServiceContext, id: string): Promise<UserView> {
    await authorize(ctx, 'read', { type: 'users', id });
    return presentUser(await users.find(ctx, id));
  }

  async create(ctx: ServiceContext, input: unknown): Promise<UserView> {
    await authorize(ctx, 'write', { type: 'users' });
    const { password, ...fields } = parseInput(userCreate, input);
    const password_hash = password ? await hashPassword(password) : null;
    return this.writes.run(ctx, async (w) => {
      await this.checkPerson(w, fields.person_id);
      const row = await scoped(User, w)
        .insert({ ...fields, password_hash })
        .returning('*');
      const data = presentUser(row as unknown as User);
      w.record({ entityType: 'users', entityId: data.id, entityName: data.email, action: 'created', data });
      return data;
    });
  }

  async update(ctx: ServiceContext, id: string, input: unknown, opts: WriteOptions = {}): Promise<UserView> {
    await authorize(ctx, 'write', { type: 'users' });
    const { password, ...fields } = parseInput(userUpdate, input);
    const password_hash = password ? await hashPassword(password) : undefined;
    return this.writes.run(ctx, async (w) => {
      const current = await users.lock(w, id, opts);
      await this.checkPerson(w, fields.person_id);
      const demotes = (fields.role && fields.role !== 'admin') || fields.is_active === false;
      if (current.role === 'admin' && demotes) await this.keepAnAdmin(w, id);
      const before = presentUser(current);
      const unchanged = Object.entries(fields).every(([k, v]) => v === undefined || JSON.stringify(v) === JSON.stringify(current[k as keyof typeof fields]));
      if (unchanged && !password_hash) return before; // nothing changes: no version bump, no event
      // A new password or a deactivation ends every session (reactivating must not revive old
      // tokens). The event says so already (`password` or `is_active` in its changes).
      const endsSessions = Boolean(password_hash) || (fields.is_active === false && current.is_active);
      await users.patch(w, current, {
        ...fields,
        ...(password_hash ? { password_hash } : {}),
        ...(endsSessions ? nextTokenVersion(current) : {}),
      });
      const data = presentUser(await users.find(w, id));
      const changes = diff(before, data);
      if (password_hash) changes.password = { old: '[redacted]', new: '[redacted]' };
      w.record({ entityType: 'users', entityId: id, entityName: data.email, action: 'updated', data, changes });
      return data;
    });
  }

  /** Soft delete: the user can no longer log in, their keys and sockets stop working. */
  async remove(ctx: ServiceContext, id: string, opts: WriteOptions = {}): Promise<void> {
    await authorize(ctx, 'write', { type: 'users' });
    await this.writes.run(ctx, async (w) => {
      const current = await users.lock(w, id, opts);
      if (current.role === 'admin') await this.keepAnAdmin(w, id);
      await users.softDelete(w, current, { is_active: false, ...nextTokenVersion(current) });
      const data = presentUser(await users.find(w, id, { includeDeleted: true }));
      w.record({ entityType: 'users', entityId: id, entityName: data.email, action: 'deleted', data, previous: current });
    });
  }

  /**
   * Logout: ends every session of the caller's user at once (a token version bump: every login
   * token issued before no longer signs in, on REST, live sockets and co-editing). API keys stay.
   */
  async endSessions(ctx: ServiceContext): Promise<void> {
    const id = ctx.actor.userId ?? '';
    await authorize(ctx, 'end_sessions', { type: 'users', id });
    await this.writes.run(ctx, async (w) => {
      const current = await users.lock(w, id);
      await users.patch(w, current, nextTokenVersion(current));
      const data = presentUser(await users.find(w, id));
      w.record({ entityType: 'users', entityId: id, entityName: data.email, action: 'updated', data, changes: { token_version: tokenVersionChange(current) } });
    });
  }

  private async checkPerson(w: WriteScope, personId: string | null | undefined): Promise<void> {
    if (!personId) return;
    const found = await scoped(Person, w).findById(personId).select('id');
    if (!found)
      throw UnprocessableEntity('The request refers to records that do not exist.', [
        { path: 'person_id', message: `no person with id ${personId} in this tenant` },
      ]);
  }

  /** A tenant must keep at least one active admin, or nobody could manage it again. */
  private async keepAnAdmin(w: WriteScope, leavingId: string): Promise<void> {
    // Lock every active admin (in id order) so two admins demoting each other at once serialise
    // here, and the second sees the first's change.
    const admins = await scoped(User, w).where({ role: 'admin', is_active: true }).orderBy('id').forUpdate().select('id');
    if (!admins.some((a) => a.id !== leavingId)) throw Conflict('This is the last active admin of the tenant.');
  }
}

/** The columns that end every session of the user: the next token version. */
function nextTokenVersion(current: User): Pick<User, 'token_version'> {
  return { token_version: current.token_version + 1 };
}

/** How a logout's change event says that sessions ended (the live-event stream and co-editing act on it). */
function tokenVersionChange(current: User) {
  return { old: current.token_version, new: current.token_version + 1 };
}
