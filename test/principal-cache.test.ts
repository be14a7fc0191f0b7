// The per-node principal cache on its own: entries expire with their TTL or their token, go when
// this node hears a change of their user or key, and a principal read while such a change was
// heard is never kept (it may predate the change).
import assert from 'node:assert/strict';
import type { ChangeEvent } from '../src/platform/bus.js';
import { PrincipalCache, type CachedPrincipal } from '../src/modules/auth/principal-cache.js';

const TENANT = '00000000-0000-4000-8000-000000000001';
const USER = '00000000-0000-4000-8000-000000000002';
const principal: CachedPrincipal = { tenantId: TENANT, actor: { type: 'user', id: USER, userId: USER, role: 'admin', canWrite: true } };

function userChanged(entityId = USER): ChangeEvent {
  return {
    seq: 1,
    type: 'users.updated',
    tenant_id: TENANT,
    entity_type: 'users',
    entity_id: entityId,
    action: 'updated',
    actor: { type: 'user', id: USER },
    at: new Date().toISOString(),
    data: { id: entityId },
    changes: null,
    origin: 'rest',
  } as ChangeEvent;
}

describe('principal cache', () => {
  let listening = true;
  const cache = () => new PrincipalCache({ ttlMs: 5_000, maxEntries: 10, listening: () => listening });
  beforeEach(() => {
    listening = true;
  });

  it('serves an entry until its TTL or its token expiry, whichever comes first', () => {
    const c = cache();
    c.set('a', principal, c.epoch, 1_000);
    c.set('b', principal, c.epoch, 1_000, 2_000);
    assert.equal(c.get('a', 5_999), principal);
    assert.equal(c.get('a', 6_000), undefined);
    assert.equal(c.get('b', 1_999), principal);
    assert.equal(c.get('b', 2_000), undefined);
  });

  it('drops the entries of a user it hears change, and only theirs', () => {
    const c = cache();
    const other = '00000000-0000-4000-8000-000000000003';
    c.set('mine', principal, c.epoch);
    c.set('theirs', { ...principal, actor: { ...principal.actor, id: other, userId: other } }, c.epoch);
    c.onEvents([userChanged()]);
    assert.equal(c.get('mine'), undefined);
    assert.ok(c.get('theirs'));
  });

  it('keeps nothing that was read while a change was heard', () => {
    const c = cache();
    const readAt = c.epoch; // the read of the user begins…
    c.onEvents([userChanged()]); // …a change of them is heard while it runs…
    c.set('late', principal, readAt); // …so what it read may predate the change
    assert.equal(c.get('late'), undefined);
    c.set('late', principal, c.epoch); // a read begun after the change is kept
    assert.equal(c.get('late'), principal);
  });

  it('serves and keeps nothing while this node does not hear the bus, and starts empty after', () => {
    const c = cache();
    c.set('a', principal, c.epoch);
    listening = false;
    assert.equal(c.get('a'), undefined);
    c.set('b', principal, c.epoch);
    listening = true;
    assert.equal(c.get('a'), undefined);
    assert.equal(c.get('b'), undefined);
    const readAt = c.epoch;
    c.clear(); // the bus came back: events may have been lost
    c.set('c', principal, readAt);
    assert.equal(c.get('c'), undefined);
  });
});
