// How much a socket has been sent that has not left this process: what the WebSocket still holds
// (handed to it, not yet written to the TCP socket) plus what engine.io queued behind it while the
// transport was busy. A client that stops reading makes this grow; reading it costs a few field reads.
import type { LiveSocket } from './events.js';

interface EngineInternals {
  writeBuffer?: Array<{ data?: unknown }>;
  transport?: { socket?: { bufferedAmount?: number } };
}

export function unsentBytes(socket: LiveSocket): number {
  const conn = socket.conn as unknown as EngineInternals;
  let bytes = conn.transport?.socket?.bufferedAmount ?? 0;
  for (const packet of conn.writeBuffer ?? []) {
    const { data } = packet;
    if (typeof data === 'string') bytes += data.length;
    else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) bytes += data.byteLength;
  }
  return bytes;
}

/**
 * Cuts a socket's connection at once, with what it holds: a close handshake (or socket.io's
 * disconnect packet) would queue behind the data the client is not reading.
 */
export function dropConnection(socket: LiveSocket): void {
  socket.conn.close(true);
  const transport = (socket.conn as unknown as { transport?: { socket?: { terminate?: () => void } } }).transport;
  transport?.socket?.terminate?.();
}
