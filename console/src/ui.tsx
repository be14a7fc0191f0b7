// Pieces every view uses: status badges, relative ages and durations, a form error line, the loading states.
import type { ComponentChildren } from 'preact';
import type { Load } from './hooks.js';

export function Badge({ value, kind }: { value: string; kind?: string }) {
  return <span class={`badge badge-${kind ?? 'status'} badge-${value}`}>{value.replace(/_/g, ' ')}</span>;
}

export function age(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d`;
}

/** A span of seconds in human units: `45s`, `12m`, `3h 5m`, `2d 4h`; '–' for null (not reached yet). */
export function duration(seconds: number | null): string {
  if (seconds === null) return '–';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function Loaded<T>({ load, children }: { load: Load<T>; children: (value: T) => ComponentChildren }) {
  if (load.state === 'loading')
    return (
      <p class="muted" aria-live="polite">
        Loading…
      </p>
    );
  if (load.state === 'error')
    return (
      <p class="error" role="alert">
        {load.message}
      </p>
    );
  return <>{children(load.value)}</>;
}

export function ErrorLine({ message }: { message: string | null }) {
  return message ? (
    <p class="error" role="alert">
      {message}
    </p>
  ) : null;
}

/** Keeps one record per id with the highest row_version: REST loads and live changes may cross. */
export function upsert<T extends { id: string; row_version?: number }>(list: T[], next: T): T[] {
  const i = list.findIndex((x) => x.id === next.id);
  if (i < 0) return [next, ...list];
  const prev = list[i]!;
  if (prev.row_version !== undefined && next.row_version !== undefined && next.row_version < prev.row_version) return list;
  const copy = list.slice();
  copy[i] = next;
  return copy;
}

/** A value as text: strings as they are, null and undefined as '', anything else as JSON. */
export function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** A text field of a submitted form ('' when absent or a file). */
export function field(form: FormData, name: string): string {
  const v = form.get(name);
  return typeof v === 'string' ? v : '';
}
