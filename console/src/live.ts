// The live connection: one Socket.IO socket for the whole console. It resumes with `since` (the
// seq of the last event it saw) on every reconnection, so each committed change reaches the views
// once, in seq order; `caught_up` tells it when a replay is over. Views subscribe to changes and to
// `resync` (our `since` is not in the server's log: reload from REST).
import { io, type Socket } from 'socket.io-client';
import type { Schemas } from '../client/index.js';
import { session } from './session.js';

export type Change = Schemas['ChangeEnvelope'];

export interface LiveStatus {
  state: 'connecting' | 'replaying' | 'live' | 'reconnecting' | 'offline';
  /** The last seq seen (events or caught_up); null before the first. */
  seq: number | null;
  /** The `since` the current connection resumed from, and how many events its replay sent. */
  resumedFrom: number | null;
  replayed: number;
  /** The server did not know our `since` (a reset or restored database): the views reloaded from REST. */
  resynced: boolean;
  /** Why the connection is down, when it is. */
  detail?: string;
}

type ChangeListener = (change: Change) => void;
type StatusListener = (status: LiveStatus) => void;

export class LiveConnection {
  private socket: Socket | undefined;
  /** The token the socket holds: its handshake's, or the last one handed over. */
  private token: string | undefined;
  private readonly changeListeners = new Set<ChangeListener>();
  private readonly resyncListeners = new Set<() => void>();
  private readonly statusListeners = new Set<StatusListener>();
  status: LiveStatus = { state: 'connecting', seq: null, resumedFrom: null, replayed: 0, resynced: false };
  /** The last changes, newest last (the activity feed). */
  readonly recent: Change[] = [];

  start(): void {
    if (this.socket) return;
    const socket = io(location.origin, {
      transports: ['websocket'],
      reconnectionDelay: 500,
      reconnectionDelayMax: 5_000,
      auth: (cb) => {
        const since = this.status.seq;
        this.token = session.token();
        this.update({ resumedFrom: since, replayed: 0, resynced: false });
        cb(since === null ? { token: this.token } : { token: this.token, since });
      },
    });
    this.socket = socket;
    socket.on('connect', () => this.update({ state: 'replaying', detail: undefined }));
    socket.on('change', (change: Change) => {
      if (this.status.seq !== null && change.seq <= this.status.seq) return; // never twice (a resync restarts the count)
      this.recent.push(change);
      if (this.recent.length > 200) this.recent.shift();
      this.status = { ...this.status, seq: change.seq };
      for (const fn of this.changeListeners) fn(change);
      this.update({});
    });
    socket.on('caught_up', ({ seq, replayed }: { seq: number; replayed: number }) => {
      this.update({ state: 'live', seq: Math.max(seq, this.status.seq ?? 0), replayed });
    });
    socket.on('resync_required', ({ latest_seq }: { latest_seq: number }) => {
      // Our seqs mean nothing to this log any more: start over from its latest, and reload.
      this.recent.length = 0;
      this.status = { ...this.status, seq: latest_seq, resynced: true };
      this.update({});
      for (const fn of this.resyncListeners) fn();
    });
    socket.on('revoked', ({ reason }: { reason: string }) => session.end(revokedMessage(reason)));
    socket.on('disconnect', (reason) => {
      // The server ended this socket (revoked, signed out): it does not reconnect by itself.
      if (reason === 'io server disconnect' || reason === 'io client disconnect') this.update({ state: 'offline', detail: reason });
      else this.update({ state: 'reconnecting', detail: reason });
    });
    socket.on('connect_error', (err) => {
      if (err.message === 'unauthorized') session.end('Your session has ended. Sign in again.');
      else this.update({ state: 'reconnecting', detail: err.message });
    });
  }

  stop(): void {
    this.socket?.disconnect();
    this.socket = undefined;
    this.recent.length = 0;
    this.status = { state: 'connecting', seq: null, resumedFrom: null, replayed: 0, resynced: false };
  }

  /** Hands a renewed login token to the socket, so it is not cut off at the old token's expiry. */
  refreshToken(token: string): void {
    if (!this.socket || token === this.token) return; // the socket signed in with this one
    this.token = token;
    this.socket.emit('refresh_token', { token });
  }

  onChange(fn: ChangeListener): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  onResync(fn: () => void): () => void {
    this.resyncListeners.add(fn);
    return () => this.resyncListeners.delete(fn);
  }

  onStatus(fn: StatusListener): () => void {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  }

  private update(patch: Partial<LiveStatus>): void {
    this.status = { ...this.status, ...patch };
    for (const fn of this.statusListeners) fn(this.status);
  }
}

const REVOKED: Record<string, string> = {
  token_expired: 'Your session expired. Sign in again.',
  session_ended: 'You were signed out (your session ended).',
  user_deactivated: 'Your account was deactivated.',
  role_changed: 'Your role changed. Sign in again to see what it allows.',
  api_key_revoked: 'This API key was revoked.',
  tenant_deactivated: 'This tenant was deactivated.',
  token_revoked: 'Your credential no longer signs in.',
};

function revokedMessage(reason: string): string {
  return REVOKED[reason] ?? `Your access ended (${reason}).`;
}

export const live = new LiveConnection();
