// The live change feed: every change the console received, in seq order, newest first.
import { useState } from 'preact/hooks';
import { useChanges } from '../hooks.js';
import { live } from '../live.js';
import { text } from '../ui.js';

export function Activity() {
  const [changes, setChanges] = useState(() => [...live.recent]);
  useChanges(() => setChanges([...live.recent]));
  return (
    <section aria-labelledby="activity-title">
      <h1 id="activity-title">Activity</h1>
      <p class="muted">Every change committed since this page opened (the last 200), as the live stream delivered it.</p>
      <ol class="activity" reversed aria-label="Changes, newest first">
        {[...changes].reverse().map((c) => (
          <li key={c.seq} data-seq={c.seq}>
            <span class="seq">#{c.seq}</span> <code>{c.type}</code> {entityName(c.data)} <span class="muted">{new Date(c.at).toLocaleTimeString()}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}

function entityName(data: unknown): string {
  if (!data || typeof data !== 'object') return '';
  const d = data as { name?: unknown; title?: unknown; message?: unknown };
  return text(d.name ?? d.title ?? d.message);
}
