// The event bus carries committed change events from the node that wrote them to every node's
// live-event fan-out. It is delivery only: the change_events table is the truth.
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import type { ChangeOrigin } from './context.js';
import { fieldChanges } from './schema-kit.js';

/**
 * A change as clients see it (sockets, GET /events, webhooks): the public change envelope. The
 * schema documents it (the AsyncAPI document); the type is inferred from it, so the two agree.
 */
export const changeEnvelope = z.object({
  seq: z.number().int().min(1).describe("Position in the tenant's change log: strictly increasing, without gaps, in commit order"),
  type: z.string().describe('`<entity_type>.<action>`'),
  tenant_id: z.uuid(),
  entity_type: z.string().describe("The changed record's collection, e.g. `services`"),
  entity_id: z.uuid().nullable(),
  action: z.string(),
  actor: z
    .object({
      type: z.enum(['user', 'api_key', 'system']),
      id: z.string().nullable().describe('The user or API key id; null for the system'),
    })
    .describe('Who made the change'),
  at: z.iso.datetime({ offset: true }).describe('When the change committed (ISO 8601)'),
  data: z.unknown().describe('The record as REST returns it, after the change'),
  changes: fieldChanges.describe('For updates, `{field: {old, new}}` of every field that changed; otherwise null'),
});

export type ChangeEnvelope = z.infer<typeof changeEnvelope>;

/** A change as the nodes pass it on (bus, change-log reads): the envelope plus where it came from. */
export interface ChangeEvent extends ChangeEnvelope {
  /** Absent only on messages of a node that predates it (treated as 'rest'). */
  origin?: ChangeOrigin;
}

/** The public envelope of an event: everything but the internal origin. Call at every edge. */
export function publicEnvelope(event: ChangeEvent): ChangeEnvelope {
  if (!('origin' in event)) return event;
  const { origin: _origin, ...envelope } = event;
  return envelope;
}

export type ChangeListener = (events: ChangeEvent[]) => void;

export interface EventBus {
  /** Called only after the transaction that wrote the events committed. Must not throw. */
  publish(events: ChangeEvent[]): Promise<void>;
  subscribe(listener: ChangeListener): () => void;
  close(): Promise<void>;
  /** Whether committed changes reach this node's listeners now (absent: always, as in one process). */
  isListening?(): boolean;
  /** Called when listening resumes after an outage: what was published meanwhile was lost. */
  onResume?(listener: () => void): () => void;
}

/** One process, one node: the embedded default and the tests of the write path. */
export class InProcessEventBus implements EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  async publish(events: ChangeEvent[]): Promise<void> {
    if (events.length === 0) return;
    for (const listener of this.emitter.listeners('change') as ChangeListener[]) {
      try {
        listener(events);
      } catch {
        // A failing listener must not stop delivery to the others; the log stays the truth.
      }
    }
  }

  subscribe(listener: ChangeListener): () => void {
    this.emitter.on('change', listener);
    return () => this.emitter.off('change', listener);
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}
