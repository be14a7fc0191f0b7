// The fault suite's moving parts: a PostgreSQL of its own (so it can be stopped and started again on
// the same data directory and port), a pair of app nodes in child processes that a test can SIGKILL,
// writers that retry against the other node the way a client behind a load balancer would, live
// sockets that reconnect and resume from their last seq by themselves, and co-editing clients that
// record which of their peers' edits they saw relayed.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';
import * as Y from 'yjs';
import { CollabStorage } from '../../src/platform/collab/storage.js';
import { createKnex, migrateLatest } from '../../src/platform/db.js';
import { findFreePort, startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/platform/embedded-postgres.js';
import { killChildNode, startChildNode, type ChildNode } from './child-node.js';
import { createEditor, projectionNotice, sleep, type Editor } from './collab-client.js';
import { LiveClient, rest } from './live-events.js';

const NODE_SCRIPT = fileURLToPath(new URL('./fault-node.ts', import.meta.url));

/** The suite's size: FAULT_SOCKETS live sockets, FAULT_WRITE_MS of writing around each fault. */
export interface FaultSize {
  sockets: number;
  writeMs: number;
  writers: number;
  editors: number;
}

export function faultSize(env: NodeJS.ProcessEnv = process.env): FaultSize {
  const int = (name: string, fallback: number, min: number) => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${raw}`);
    return value;
  };
  return {
    sockets: int('FAULT_SOCKETS', 200, 2),
    writeMs: int('FAULT_WRITE_MS', 3_000, 200),
    writers: int('FAULT_WRITERS', 4, 1),
    editors: int('FAULT_EDITORS', 4, 2),
  };
}

// ---- PostgreSQL of the suite's own --------------------------------------------------------------

export class FaultPostgres {
  private server?: EmbeddedPostgres;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async start(): Promise<FaultPostgres> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'appinventory-fault-pg-'));
    await fs.chmod(dir, 0o755); // as root the server runs as `postgres` and must reach it
    const pg = new FaultPostgres(dir, await findFreePort());
    await pg.up();
    // Migrations run as the owner and grant the runtime role (pg.url) what the app needs.
    const knex = createKnex(pg.server!.migrationConnectionString, { poolMax: 1 });
    try {
      await migrateLatest(knex, undefined, { runtimeRole: pg.server!.runtimeRole });
    } finally {
      await knex.destroy();
    }
    return pg;
  }

  get url(): string {
    return this.server!.connectionString;
  }

  /** Starts the server on the suite's data directory and port. */
  async up(): Promise<void> {
    this.server = await startEmbeddedPostgres({ dataDir: this.dir, port: this.port });
  }

  /** Stops the server (a clean shutdown: every connection is cut). */
  async down(): Promise<void> {
    await this.server?.stop();
  }

  async remove(): Promise<void> {
    await this.down();
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

// ---- app nodes ----------------------------------------------------------------------------------

export class Cluster {
  readonly nodes: (ChildNode | undefined)[] = [];
  private readonly everyNode: ChildNode[] = [];
  /** The last lines the nodes wrote to stderr (their error log), for the report of a failure. */
  readonly errorLog: string[] = [];

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  async start(index: number): Promise<ChildNode> {
    const node = await startChildNode(NODE_SCRIPT, this.env, 60_000);
    node.child.stderr!.on('data', (chunk: Buffer) => {
      this.errorLog.push(
        ...chunk
          .toString()
          .split('\n')
          .filter(Boolean)
          .map((l) => `node ${index}: ${l}`),
      );
      this.errorLog.splice(0, Math.max(0, this.errorLog.length - 200));
    });
    this.nodes[index] = node;
    this.everyNode.push(node);
    return node;
  }

  /** SIGKILLs node `index`; it is out of the rotation until started again. */
  async kill(index: number): Promise<void> {
    const node = this.nodes[index];
    this.nodes[index] = undefined;
    if (node) await killChildNode(node);
  }

  /** The URLs of the nodes that run, starting the rotation at `start`. */
  urls(start = 0): string[] {
    const alive = this.nodes.filter((n): n is ChildNode => !!n).map((n) => n.url);
    return alive.map((_, i) => alive[(start + i) % alive.length]);
  }

  async stopAll(): Promise<void> {
    for (const node of this.everyNode) await killChildNode(node);
  }
}

// ---- writers ------------------------------------------------------------------------------------

export interface AckedWrite {
  kind: 'create' | 'update';
  entityId: string;
  /** The unique value the write set: the name of a created team, the description of an updated one. */
  value: string;
  writer: number;
}

/**
 * Writers that alternate POST /teams and PATCH /teams/:id of their own team over the nodes. A write
 * that fails to connect, or answers 503 (database or node going away), is retried against the next
 * node with a fresh value, so an attempt whose answer was lost (it may have committed) never
 * counts as acked; only 2xx answers are acked. Any other answer is a failure of the suite.
 */
export class Writers {
  readonly acked: AckedWrite[] = [];
  readonly retries = { connection: 0, unavailable: 0 };
  readonly unexpected: string[] = [];
  readonly ownTeams: string[] = [];
  /** The description of each writer's team as its last acked PATCH set it. */
  readonly lastDescription = new Map<string, string>();
  private running = false;
  private loops: Promise<void>[] = [];
  private counter = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly token: string,
    private readonly count: number,
  ) {}

  async prepare(): Promise<void> {
    for (let w = 0; w < this.count; w++) {
      const created = await this.write(w, 'create', 'POST', '/teams', (v) => ({ name: v }));
      this.ownTeams.push(created);
    }
  }

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.count }, (_, w) => this.loop(w));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(w: number): Promise<void> {
    for (let n = 0; this.running; n++) {
      if (n % 2 === 0) await this.write(w, 'create', 'POST', '/teams', (v) => ({ name: v }));
      else {
        const team = this.ownTeams[w];
        await this.write(w, 'update', 'PATCH', `/teams/${team}`, (v) => ({ description: v }), team);
      }
    }
  }

  private async write(w: number, kind: AckedWrite['kind'], method: string, route: string, body: (v: string) => object, entityId?: string): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      const value = `fault-${w}-${++this.counter}-${randomUUID().slice(0, 6)}`;
      const urls = this.cluster.urls(w + attempt);
      if (urls.length === 0) {
        await sleep(50);
        continue;
      }
      let res;
      try {
        res = await rest(urls[0], method, route, this.token, body(value));
      } catch {
        this.retries.connection++;
        await sleep(50);
        continue;
      }
      if (res.status === 503) {
        this.retries.unavailable++;
        await sleep(100);
        continue;
      }
      if (res.status < 200 || res.status >= 300) {
        this.unexpected.push(`${method} ${route} → ${res.status} ${JSON.stringify(res.body)}`);
        await sleep(100);
        continue;
      }
      const id = entityId ?? (res.body as { data: { id: string } }).data.id;
      this.acked.push({ kind, entityId: id, value, writer: w });
      if (kind === 'update') this.lastDescription.set(id, value);
      return id;
    }
  }
}

// ---- live sockets -------------------------------------------------------------------------------

/**
 * A live socket as a client should run one: socket.io-client reconnects after a lost transport by
 * itself; after a refused handshake (`unavailable` while the database is down) it does not, so the
 * client connects again itself. Every (re)connection resumes with since = its last seq.
 */
export function faultSocket(url: string, token: string, since: number): LiveClient {
  const client = new LiveClient(url, { token, since, reconnect: true });
  client.socket.on('connect_error', () => {
    if (client.socket.active) return; // the manager is already retrying
    setTimeout(() => {
      if (client.socket.io.reconnection()) client.socket.connect();
    }, 100);
  });
  return client;
}

export interface StreamReport {
  min: number;
  max: number;
  duplicates: number;
  gaps: number;
  resyncs: number;
}

/** Per socket: every seq in first..last exactly once. */
export function streamReport(clients: LiveClient[], first: number, last: number): StreamReport {
  let min = Infinity;
  let max = 0;
  let duplicates = 0;
  let gaps = 0;
  let resyncs = 0;
  for (const client of clients) {
    const seen = new Set<number>();
    let delivered = 0;
    for (const seq of client.seqs()) {
      if (seq < first) continue;
      delivered++;
      if (seen.has(seq)) duplicates++;
      seen.add(seq);
    }
    for (let seq = first; seq <= last; seq++) if (!seen.has(seq)) gaps++;
    min = Math.min(min, delivered);
    max = Math.max(max, delivered);
    resyncs += client.resyncs.length;
  }
  return { min: clients.length ? min : 0, max, duplicates, gaps, resyncs };
}

// ---- co-editing ---------------------------------------------------------------------------------

const MARKER = /\[e(\d+)\.(\d+)\]/g;

/**
 * Co-editing clients on one record, each appending markers `[e<i>.<n>]` to the description. A marker
 * of another client that reaches an editor was stored before it was relayed (the server's rule), so
 * every marker in `relayed` must be in the stored document.
 */
export class Editors {
  readonly editors: { editor: Editor; index: number }[] = [];
  readonly relayed = new Set<string>();
  /** The projection notices the server gave other than `ok` (a refused value is reverted in the document). */
  readonly notices: string[] = [];
  private timers: NodeJS.Timeout[] = [];
  private sent = 0;
  /** Per editor, the number of its last marker (markers stay unique across start/stop). */
  private readonly counters: number[] = [];

  constructor(
    private readonly room: string,
    private readonly token: string,
  ) {}

  open(urls: string[], count: number): void {
    for (let i = 0; i < count; i++) {
      const editor = createEditor(urls[i % urls.length], this.room, this.token);
      const index = i;
      editor.doc.on('update', (_update: Uint8Array, origin: unknown) => {
        if (origin !== editor.provider) return; // only what the server sent
        for (const [marker, from] of editor.description.toString().matchAll(MARKER)) {
          if (Number(from) !== index) this.relayed.add(marker);
        }
      });
      editor.provider.awareness.on('change', () => {
        const notice = projectionNotice(editor);
        if (notice && notice.status !== 'ok') {
          const line = `${notice.status}: ${notice.detail ?? ''} ${JSON.stringify(notice.errors ?? [])}`;
          if (this.notices.at(-1) !== line) this.notices.push(line);
        }
      });
      this.editors.push({ editor, index });
    }
  }

  /** Points editors at a node (the next reconnection goes there), as a load balancer would. */
  moveTo(predicate: (serverUrl: string) => boolean, url: string): void {
    for (const { editor } of this.editors) {
      if (predicate(editor.provider.serverUrl)) editor.provider.serverUrl = collabUrl(url);
    }
  }

  start(everyMs = 150): void {
    for (const { editor, index } of this.editors) {
      this.timers.push(
        setInterval(() => {
          const text = editor.description;
          this.counters[index] = (this.counters[index] ?? 0) + 1;
          text.insert(text.length, `[e${index}.${this.counters[index]}]`);
          this.sent++;
        }, everyMs),
      );
    }
  }

  stop(): number {
    for (const t of this.timers.splice(0)) clearInterval(t);
    return this.sent;
  }

  /** True when every editor is connected, synced and holds the same description. */
  converged(): boolean {
    const texts = this.editors.map(({ editor }) => (editor.provider.synced && editor.provider.wsconnected ? editor.description.toString() : null));
    return texts.every((t) => t !== null && t === texts[0]);
  }

  destroy(): void {
    this.stop();
    for (const { editor } of this.editors) editor.destroy();
  }
}

export function collabUrl(httpUrl: string): string {
  return `${httpUrl.replace(/^http/, 'ws')}/collab`;
}

/** The description of the record's document as stored in PostgreSQL (snapshot + update log). */
export async function storedDescription(knex: Knex, tenantId: string, entityId: string): Promise<string> {
  const row = await knex('collab_documents').where({ tenant_id: tenantId, entity_type: 'services', entity_id: entityId }).first('id');
  if (!row) return '';
  const stored = await new CollabStorage(knex).read(row.id);
  const doc = new Y.Doc();
  if (stored.snapshot) Y.applyUpdate(doc, stored.snapshot);
  for (const { update } of stored.updates) Y.applyUpdate(doc, update);
  return doc.getText('description').toString();
}
