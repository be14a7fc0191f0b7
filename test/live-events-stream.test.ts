// TenantStream's delivery algorithm in isolation: a log that grows while sockets join and replay,
// bus messages that are lost, doubled or overtaken, a slow log reader and a tiny page size. Every
// socket must end with exactly since+1..latest, in order.
import assert from 'node:assert/strict';
import type { ChangeEvent } from '../src/platform/bus.js';
import type { LiveServer, LiveSocket } from '../src/platform/realtime/events.js';
import { TenantStream, type ChangeLogSource, type StreamMember } from '../src/platform/realtime/tenant-stream.js';
import { needsRedaction, revocationOf, visibleTo } from '../src/modules/access/visibility.js';
import { quietLogger } from './support/factories.js';

const TENANT = '00000000-0000-4000-8000-000000000001';

let nextSocketId = 0;

class FakeSocket {
  readonly received: number[] = [];
  readonly rooms = new Set<string>();
  // Like Socket.IO: every socket is in a room named by its id.
  readonly id = `socket-${++nextSocketId}`;
  constructor(readonly registry: Set<FakeSocket>) {
    registry.add(this);
    this.rooms.add(this.id);
  }
  emit(event: string, payload: ChangeEvent) {
    if (event === 'change') this.received.push(payload.seq);
    return true;
  }
  join(room: string) {
    this.rooms.add(room);
  }
  leave(room: string) {
    this.rooms.delete(room);
  }
}

function fakeIo(sockets: Set<FakeSocket>): LiveServer {
  return {
    local: {
      // Like Socket.IO: one emit to several rooms reaches each socket in any of them once.
      to: (room: string | string[]) => ({
        emit: (event: string, payload: ChangeEvent) => {
          const rooms = Array.isArray(room) ? room : [room];
          for (const s of sockets) if (rooms.some((r) => s.rooms.has(r))) s.emit(event, payload);
        },
      }),
    },
  } as unknown as LiveServer;
}

function event(seq: number): ChangeEvent {
  return {
    seq,
    type: 'teams.created',
    tenant_id: TENANT,
    entity_type: 'teams',
    entity_id: null,
    action: 'created',
    actor: { type: 'system', id: null },
    at: new Date().toISOString(),
    data: {},
    changes: null,
  };
}

/** A deterministic pseudo-random sequence, so a failure can be replayed. */
function random(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('live events: TenantStream delivery', () => {
  // Slice sizes 1 and 2 spread an event's delivery over several turns of the event loop, while
  // members join, replay and move between the filtered set and the slice rooms.
  const runs: Array<[number, number | undefined]> = [
    [1, undefined],
    [2, undefined],
    [3, undefined],
    [4, undefined],
    [5, undefined],
    [6, 1],
    [7, 2],
    [8, 1],
    [9, 2],
  ];
  for (const [seed, sliceSize] of runs) {
    it(`every member gets since+1..latest exactly once, in order (seed ${seed}${sliceSize ? `, slices of ${sliceSize}` : ''})`, async () => {
      const rnd = random(seed);
      const log: ChangeEvent[] = [];
      const source: ChangeLogSource = {
        async since(_tenant, since, limit) {
          await tick(Math.floor(rnd() * 3)); // the log is slow; commits happen meanwhile
          return log.filter((e) => e.seq > since).slice(0, limit);
        },
        async latest() {
          await tick(Math.floor(rnd() * 2));
          return log.length;
        },
      };
      const sockets = new Set<FakeSocket>();
      const stream = new TenantStream(TENANT, {
        io: fakeIo(sockets),
        source,
        visibility: { needsRedaction, visibleTo, revocationOf },
        logger: quietLogger,
        onRevoked: () => {},
        pageSize: 3,
        sliceSize,
      });

      const members: Array<{ socket: FakeSocket; member: StreamMember; since: number; admitted: Promise<void> }> = [];
      const pendingBus: ChangeEvent[][] = [];
      for (let step = 0; step < 150; step++) {
        const r = rnd();
        if (r < 0.5) {
          // A commit: in the log first, then (maybe) on the bus, maybe late, maybe twice.
          const batch = Array.from({ length: 1 + Math.floor(rnd() * 3) }, (_, i) => event(log.length + i + 1));
          log.push(...batch);
          const fate = rnd();
          if (fate < 0.6) stream.ingest(batch);
          else if (fate < 0.8)
            pendingBus.push(batch); // overtaken: delivered later
          else if (fate < 0.9) {
            stream.ingest(batch);
            pendingBus.push(batch); // doubled
          } // else lost
        } else if (r < 0.6 && pendingBus.length) {
          stream.ingest(pendingBus.splice(Math.floor(rnd() * pendingBus.length), 1)[0]);
        } else if (r < 0.7) {
          const socket = new FakeSocket(sockets);
          const since = Math.floor(rnd() * (log.length + 1));
          const member = stream.add(socket as unknown as LiveSocket, { actorType: 'user', actorId: null, userId: null, admin: true });
          members.push({ socket, member, since, admitted: stream.admit(member, since) });
        } else if (r < 0.78 && members.length) {
          // A filter every event passes, set or cleared: the member changes rooms, not what it gets.
          const { member } = members[Math.floor(rnd() * members.length)];
          stream.setFilters(member, member.filters.length ? [] : [{ entity_types: ['teams'] }]);
        } else {
          await tick(Math.floor(rnd() * 2));
        }
      }
      for (const batch of pendingBus) stream.ingest(batch);
      await Promise.all(members.map((m) => m.admitted));
      stream.catchUpSoon(log.length, 0); // what the sweep does for the lost ones
      await tick(5);
      await stream.flush();

      assert.ok(members.length > 5);
      for (const { socket, since } of members) {
        const expected = Array.from({ length: log.length - since }, (_, i) => since + i + 1);
        assert.deepEqual(socket.received, expected, `member with since ${since}`);
      }
      assert.equal(stream.lastDelivered, log.length);
    });
  }
});

describe('live events: TenantStream delivers a slice at a time', () => {
  it('members that change rooms or go live while an event is half delivered get it exactly once', async () => {
    const log: ChangeEvent[] = [];
    const source: ChangeLogSource = {
      since: async (_tenant, since, limit) => log.filter((e) => e.seq > since).slice(0, limit),
      latest: async () => log.length,
    };
    const sockets = new Set<FakeSocket>();
    const stream = new TenantStream(TENANT, {
      io: fakeIo(sockets),
      source,
      visibility: { needsRedaction, visibleTo, revocationOf },
      logger: quietLogger,
      onRevoked: () => {},
      sliceSize: 1,
    });
    const join = async (since?: number) => {
      const socket = new FakeSocket(sockets);
      const member = stream.add(socket as unknown as LiveSocket, { actorType: 'user', actorId: null, userId: null, admin: true });
      await stream.admit(member, since);
      return { socket, member };
    };
    const live = [await join(), await join(), await join(), await join()];
    const filtered = await join();
    stream.setFilters(filtered.member, [{ entity_types: ['teams'] }]);

    for (let seq = 1; seq <= 3; seq++) {
      log.push(event(seq));
      stream.ingest([event(seq)]);
      // eslint-disable-next-line @typescript-eslint/await-thenable -- awaiting a plain value yields one microtask turn, which is the point
      for (let i = 0; i < 5; i++) await null; // the step starts: slice 0 is out, the others wait for their turn
      assert.ok(live[0].socket.received.includes(seq) && !live[1].socket.received.includes(seq), 'half delivered');
      // Moves while the event is half delivered: out of a slice not yet reached, into one, and a
      // member that joins (and would go live) mid-delivery.
      stream.setFilters(live[3].member, live[3].member.filters.length ? [] : [{ entity_types: ['teams'] }]);
      stream.setFilters(filtered.member, filtered.member.filters.length ? [] : [{ entity_types: ['teams'] }]);
      live.push(await join(seq - 1));
      await stream.flush();
    }
    await new Promise((resolve) => setImmediate(resolve));
    await stream.flush();

    for (const [i, { socket }] of [...live, filtered].entries()) {
      const since = i < 4 || i === live.length ? 0 : i - 4;
      assert.deepEqual(
        socket.received,
        [1, 2, 3].filter((seq) => seq > since),
        `member ${i}`,
      );
    }
  });
});

describe('live events: TenantStream encodes an event once per visibility class', () => {
  it('reaches unfiltered and filtered members of a class with one emit, and redacts admin-only records for the rest', async () => {
    const log: ChangeEvent[] = [];
    const source: ChangeLogSource = {
      async since(_tenant, since, limit) {
        return log.filter((e) => e.seq > since).slice(0, limit);
      },
      async latest() {
        return log.length;
      },
    };
    const sockets = new Set<FakeSocket>();
    const io = fakeIo(sockets);
    // Every encoding: a broadcast through io, or an emit straight to one socket.
    const emits: { rooms: string[]; data: unknown }[] = [];
    let direct = 0;
    let broadcasting = false;
    const to = io.local.to.bind(io.local);
    (io.local as unknown as { to: unknown }).to = (room: string | string[]) => {
      const target = to(room);
      return {
        emit: (name: 'change', payload: ChangeEvent) => {
          emits.push({ rooms: Array.isArray(room) ? room : [room], data: payload.data });
          broadcasting = true;
          try {
            return target.emit(name, payload);
          } finally {
            broadcasting = false;
          }
        },
      };
    };
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with call(this, …) on the socket
    const ownEmit = FakeSocket.prototype.emit;
    FakeSocket.prototype.emit = function (this: FakeSocket, name: string, payload: ChangeEvent) {
      if (!broadcasting && name === 'change') direct++;
      return ownEmit.call(this, name, payload);
    };
    try {
      const stream = new TenantStream(TENANT, {
        io,
        source,
        visibility: { needsRedaction, visibleTo, revocationOf },
        logger: quietLogger,
        onRevoked: () => {},
      });
      const join = async (admin: boolean, filters: { entity_types: string[] }[]) => {
        const socket = new FakeSocket(sockets);
        const member = stream.add(socket as unknown as LiveSocket, { actorType: 'user', actorId: null, userId: null, admin });
        await stream.admit(member, undefined);
        stream.setFilters(member, filters);
        return socket;
      };
      const admins = [await join(true, []), await join(true, [{ entity_types: ['users'] }])];
      const others = [await join(false, []), await join(false, [{ entity_types: ['users', 'teams'] }]), await join(false, [{ entity_types: ['teams'] }])];
      const notForUsers = await join(false, [{ entity_types: ['services'] }]);

      const userEvent: ChangeEvent = {
        ...event(1),
        type: 'users.updated',
        entity_type: 'users',
        entity_id: TENANT,
        data: { id: TENANT, email: 'secret@example.com' },
      };
      log.push(userEvent, event(2));
      stream.ingest([userEvent]);
      stream.ingest([event(2)]);
      await stream.flush();

      assert.equal(direct, 0, 'no socket is sent the event on its own');
      assert.equal(emits.length, 3, 'users event: one emit for admins, one redacted for the rest; teams event: one emit');
      assert.deepEqual(emits[0].data, userEvent.data);
      assert.deepEqual(emits[1].data, { id: TENANT });
      for (const s of admins) assert.deepEqual(s.received, [1, ...(s === admins[0] ? [2] : [])]);
      assert.deepEqual(
        others.map((s) => s.received),
        [[1, 2], [1, 2], [2]],
      );
      assert.deepEqual(notForUsers.received, []);
    } finally {
      FakeSocket.prototype.emit = ownEmit;
    }
  });
});
