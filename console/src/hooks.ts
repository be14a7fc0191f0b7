// Small hooks the views share: the session, the live connection's status and changes, a REST
// load that reloads on `resync_required`, and a clock for ages.
import { useEffect, useState } from 'preact/hooks';
import { live, type Change, type LiveStatus } from './live.js';
import { session, type Session } from './session.js';

export function useSession(): Session | null {
  const [s, setS] = useState(session.current);
  useEffect(() => session.subscribe((next) => setS(next)), []);
  return s;
}

export function useLiveStatus(): LiveStatus {
  const [status, setStatus] = useState(live.status);
  useEffect(() => live.onStatus(setStatus), []);
  return status;
}

/** Calls `fn` for every change, in seq order, while the component is mounted. */
export function useChanges(fn: (change: Change) => void, deps: unknown[] = []): void {
  useEffect(() => live.onChange(fn), deps);
}

export type Load<T> = { state: 'loading' } | { state: 'error'; message: string } | { state: 'ready'; value: T };

/**
 * Loads once per `deps`, and again after a `resync_required`; `set` lets the view apply live
 * changes to what it loaded.
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): [Load<T>, (fn: (value: T) => T) => void, () => void] {
  const [result, setResult] = useState<Load<T>>({ state: 'loading' });
  const [round, setRound] = useState(0);
  useEffect(() => live.onResync(() => setRound((r) => r + 1)), []);
  useEffect(() => {
    let current = true;
    load().then(
      (value) => current && setResult({ state: 'ready', value }),
      (err: Error) => current && setResult({ state: 'error', message: err.message }),
    );
    return () => {
      current = false;
    };
  }, [...deps, round]);
  const update = (fn: (value: T) => T) => setResult((r) => (r.state === 'ready' ? { state: 'ready', value: fn(r.value) } : r));
  return [result, update, () => setRound((r) => r + 1)];
}

/** The current time, ticking every `ms` (ages on the board). */
export function useNow(ms = 30_000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
