// A socket.io-client packet decoder for load generation (socket.io protocol v5, string packets):
// a `change` event's frame is not JSON-parsed — `seq` and `at` are read out of it — and every
// other packet is decoded in full. With 1,000 sockets in one process the stock decoder's
// JSON.parse of every envelope on every socket is a large share of the bench's CPU, which on a
// small machine is taken from the servers under test; the lean one cuts the bench's CPU per
// message by about a third (measured with --fanout-stock-parser). Passed as the `parser` option.
import { EventEmitter } from 'node:events';
import type { io } from 'socket.io-client';
import type { Envelope } from './fanout-clients.js';

const CHANGE_PREFIX = '2["change",';

/** A `change` envelope of which only seq and at were read; `frame` is the whole packet. */
export class LeanEnvelope implements Envelope {
  constructor(
    readonly seq: number,
    readonly at: string,
    readonly frame: string,
  ) {}
}

/**
 * `seq` and `at` of a `change` frame. Both are top-level keys written before `data` (the writer's
 * and the baseline's key order), so the first occurrence is the envelope's own. Undefined when
 * the frame does not look like that (the caller then parses it in full).
 */
function readEnvelope(frame: string): LeanEnvelope | undefined {
  const s = frame.indexOf('"seq":');
  const a = frame.indexOf('"at":"');
  if (s < 0 || a < 0) return undefined;
  let end = s + 6;
  while (end < frame.length && frame.charCodeAt(end) >= 48 && frame.charCodeAt(end) <= 57) end++;
  const seq = Number(frame.slice(s + 6, end));
  const atEnd = frame.indexOf('"', a + 6);
  if (!Number.isSafeInteger(seq) || atEnd < 0) return undefined;
  return new LeanEnvelope(seq, frame.slice(a + 6, atEnd), frame);
}

class LeanDecoder extends EventEmitter {
  add(packet: unknown): void {
    if (typeof packet !== 'string') throw new Error('unexpected binary packet');
    if (packet.startsWith(CHANGE_PREFIX)) {
      const envelope = readEnvelope(packet);
      if (envelope) {
        this.emit('decoded', { type: 2, nsp: '/', data: ['change', envelope] });
        return;
      }
    }
    // <type>[/<nsp>,][<ack id>][<JSON>]
    let i = 1;
    let nsp = '/';
    if (packet[i] === '/') {
      const comma = packet.indexOf(',', i);
      nsp = packet.slice(i, comma < 0 ? undefined : comma);
      i = comma < 0 ? packet.length : comma + 1;
    }
    let j = i;
    while (j < packet.length && packet.charCodeAt(j) >= 48 && packet.charCodeAt(j) <= 57) j++;
    const id = j > i ? Number(packet.slice(i, j)) : undefined;
    const data = j < packet.length ? (JSON.parse(packet.slice(j)) as unknown) : undefined;
    this.emit('decoded', { type: Number(packet[0]), nsp, ...(id !== undefined ? { id } : {}), ...(data !== undefined ? { data } : {}) });
  }

  destroy(): void {
    this.removeAllListeners();
  }
}

class LeanEncoder {
  encode(p: { type: number; nsp?: string; id?: number; data?: unknown }): string[] {
    let out = String(p.type);
    if (p.nsp && p.nsp !== '/') out += `${p.nsp},`;
    if (p.id !== undefined && p.id !== null) out += String(p.id);
    if (p.data !== undefined) out += JSON.stringify(p.data);
    return [out];
  }
}

export const leanParser = { Encoder: LeanEncoder, Decoder: LeanDecoder } as unknown as NonNullable<Parameters<typeof io>[1]>['parser'];
