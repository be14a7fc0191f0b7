// The co-editing suite's baseline: a minimal stock y-websocket relay in its own process, written
// directly on y-protocols (sync + awareness) the way the y-websocket reference server behaves —
// one in-memory Y.Doc per room (the URL path), no authentication, no persistence: an update is
// applied and broadcast to every connection of the room (the sender included, as the reference
// server does), and the room is dropped when its last connection closes. Driven by its parent over
// IPC (memory, profiler, close); it exits by itself when the parent goes away.
import fs from 'node:fs/promises';
import http from 'node:http';
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';

const MESSAGE_SYNC = 0;
const MESSAGE_AWARENESS = 1;
const MESSAGE_QUERY_AWARENESS = 3;
const PING_MS = 30_000;

interface Command {
  id: number;
  cmd: string;
  [arg: string]: unknown;
}

class Room {
  readonly doc = new Y.Doc({ gc: true });
  readonly awareness = new awarenessProtocol.Awareness(this.doc);
  /** Each connection with the awareness client ids it announced (removed when it goes). */
  readonly conns = new Map<WebSocket, Set<number>>();

  constructor(readonly name: string) {
    this.awareness.setLocalState(null);
    this.doc.on('update', (update: Uint8Array) => {
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MESSAGE_SYNC);
      syncProtocol.writeUpdate(encoder, update);
      this.broadcast(encoding.toUint8Array(encoder));
    });
    this.awareness.on('update', ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
      const ids = this.conns.get(origin as WebSocket);
      if (ids) {
        for (const id of added) ids.add(id);
        for (const id of removed) ids.delete(id);
      }
      const changed = [...added, ...updated, ...removed];
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MESSAGE_AWARENESS);
      encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed));
      this.broadcast(encoding.toUint8Array(encoder));
    });
  }

  broadcast(message: Uint8Array): void {
    for (const conn of this.conns.keys()) send(conn, message);
  }

  destroy(): void {
    this.awareness.destroy();
    this.doc.destroy();
  }
}

const rooms = new Map<string, Room>();

function send(conn: WebSocket, message: Uint8Array): void {
  if (conn.readyState !== WebSocket.OPEN) return;
  conn.send(message, (err) => {
    if (err) conn.terminate();
  });
}

function join(conn: WebSocket, roomName: string): void {
  let room = rooms.get(roomName);
  if (!room) rooms.set(roomName, (room = new Room(roomName)));
  const current = room;
  current.conns.set(conn, new Set());
  let alive = true;
  conn.on('pong', () => (alive = true));
  const ping = setInterval(() => {
    if (!alive) return conn.terminate();
    alive = false;
    conn.ping();
  }, PING_MS);
  conn.on('message', (data: RawData) => {
    try {
      onMessage(conn, current, toBytes(data));
    } catch {
      conn.close(1007, 'malformed message');
    }
  });
  conn.on('error', () => {});
  conn.on('close', () => {
    clearInterval(ping);
    const ids = current.conns.get(conn);
    current.conns.delete(conn);
    if (ids?.size) awarenessProtocol.removeAwarenessStates(current.awareness, [...ids], null);
    if (current.conns.size === 0 && rooms.get(current.name) === current) {
      rooms.delete(current.name);
      current.destroy();
    }
  });
  // Greet: our state vector (the client answers with what we lack) and who is present.
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_SYNC);
  syncProtocol.writeSyncStep1(encoder, current.doc);
  send(conn, encoding.toUint8Array(encoder));
  const present = [...current.awareness.getStates().keys()];
  if (present.length) send(conn, awarenessMessage(current, present));
}

function awarenessMessage(room: Room, ids: number[]): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_AWARENESS);
  encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(room.awareness, ids));
  return encoding.toUint8Array(encoder);
}

function onMessage(conn: WebSocket, room: Room, data: Uint8Array): void {
  const decoder = decoding.createDecoder(data);
  const type = decoding.readVarUint(decoder);
  if (type === MESSAGE_SYNC) {
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MESSAGE_SYNC);
    // Step 1 writes a step 2 reply into the encoder; step 2 and updates apply to the room's doc.
    syncProtocol.readSyncMessage(decoder, encoder, room.doc, conn);
    if (encoding.length(encoder) > 1) send(conn, encoding.toUint8Array(encoder));
  } else if (type === MESSAGE_AWARENESS) {
    awarenessProtocol.applyAwarenessUpdate(room.awareness, decoding.readVarUint8Array(decoder), conn);
  } else if (type === MESSAGE_QUERY_AWARENESS) {
    const present = [...room.awareness.getStates().keys()];
    if (present.length) send(conn, awarenessMessage(room, present));
  }
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

// ---- the process: HTTP server, IPC with the parent ---------------------------------------------

const server = http.createServer((_req, res) => {
  res.writeHead(404).end();
});
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => {});
  // The room is the path (y-websocket appends the room name to the server URL); the query
  // (`?token=`) is ignored: the stock server authenticates nobody.
  const room = decodeURIComponent(new URL(req.url ?? '/', 'http://relay').pathname.slice(1));
  wss.handleUpgrade(req, socket, head, (ws) => join(ws, room));
});

let profiler: Session | undefined;
let stopping = false;
function shutdown(code = 0): void {
  if (stopping) return;
  stopping = true;
  for (const client of wss.clients) client.terminate();
  server.close();
  setImmediate(() => process.exit(code));
}

async function handle(msg: Command): Promise<unknown> {
  switch (msg.cmd) {
    case 'memory': {
      if (msg.gc && global.gc) {
        global.gc();
        await new Promise((r) => setTimeout(r, 50));
        global.gc();
      }
      const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
      return { rss, heapUsed, heapTotal, external };
    }
    case 'rooms':
      return { rooms: rooms.size, connections: wss.clients.size };
    case 'profile-start': {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: Number(msg.intervalUs ?? 250) });
      await profiler.post('Profiler.start');
      return undefined;
    }
    case 'profile-stop': {
      if (!profiler) throw new Error('the profiler is not running');
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      profiler = undefined;
      await fs.mkdir(path.dirname(String(msg.file)), { recursive: true });
      await fs.writeFile(String(msg.file), JSON.stringify(profile));
      return undefined;
    }
    case 'close':
      setImmediate(() => shutdown(0));
      return undefined;
    default:
      throw new Error(`unknown command ${msg.cmd}`);
  }
}

process.on('message', (msg: Command) => {
  handle(msg).then(
    (result) => process.send?.({ id: msg.id, ok: true, result }),
    (err: unknown) => process.send?.({ id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
process.on('disconnect', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => {});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${port}` });
});
