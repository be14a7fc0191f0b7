// The console's shell: sign-in until there is a session, then the header (views, search, connection
// state, who is signed in, sign out) and the routed view. The live connection lives as long as
// the session; a renewed token is handed to its socket.
import { useEffect } from 'preact/hooks';
import { useLiveStatus, useSession } from './hooks.js';
import { live, type LiveStatus } from './live.js';
import { href, useRoute, type Route } from './router.js';
import { session } from './session.js';
import { Activity } from './views/activity.js';
import { Board } from './views/board.js';
import { Catalog } from './views/catalog.js';
import { Dashboards } from './views/dashboards.js';
import { IncidentPage } from './views/incident.js';
import { RecordPage } from './views/record.js';
import { SearchBox, SearchResults } from './views/search.js';
import { SignIn } from './views/signin.js';

export function App() {
  const current = useSession();
  useEffect(() => {
    if (!current) return;
    live.start();
    return () => live.stop();
  }, [current?.user.id, current?.tenantId]);
  useEffect(() => {
    if (current?.kind === 'login') live.refreshToken(current.token);
  }, [current?.token]);
  if (!current) return <SignIn message={session.message} />;
  return <Shell />;
}

const NAV: { label: string; route: Route; views: Route['view'][] }[] = [
  { label: 'Status board', route: { view: 'board' }, views: ['board', 'incident'] },
  { label: 'Catalog', route: { view: 'catalog', kind: 'services' }, views: ['catalog', 'record'] },
  { label: 'Dashboards', route: { view: 'dashboards' }, views: ['dashboards'] },
  { label: 'Activity', route: { view: 'activity' }, views: ['activity'] },
];

function Shell() {
  const route = useRoute();
  const user = session.current!.user;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <nav aria-label="Views">
          {NAV.map((n) => (
            <a key={n.label} href={href(n.route)} aria-current={n.views.includes(route.view) ? 'page' : undefined}>
              {n.label}
            </a>
          ))}
        </nav>
        <SearchBox q={route.view === 'search' ? route.q : ''} />
        <ConnectionState />
        <span class="who">
          {user.display_name} <span class="muted">({user.role.replace('_', ' ')})</span>
        </span>
        <button type="button" onClick={() => void session.signOut()}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <View route={route} />
      </main>
    </>
  );
}

function View({ route }: { route: Route }) {
  switch (route.view) {
    case 'board':
      return <Board />;
    case 'incident':
      return <IncidentPage key={route.id} id={route.id} />;
    case 'search':
      return <SearchResults q={route.q} />;
    case 'catalog':
      return <Catalog kind={route.kind} />;
    case 'record':
      return <RecordPage kind={route.kind} id={route.id} />;
    case 'dashboards':
      return <Dashboards id={route.id} />;
    case 'activity':
      return <Activity />;
  }
}

export function describeStatus(s: LiveStatus): string {
  switch (s.state) {
    case 'connecting':
      return 'Connecting…';
    case 'replaying':
      return s.resumedFrom === null ? 'Connecting…' : `Catching up from seq ${s.resumedFrom}…`;
    case 'live':
      if (s.resynced) return `Live · reloaded at seq ${s.seq ?? 0} (the server's log did not have seq ${s.resumedFrom ?? '–'})`;
      return s.resumedFrom === null ? `Live · seq ${s.seq ?? 0}` : `Live · caught up from seq ${s.resumedFrom} (${s.replayed} missed)`;
    case 'reconnecting':
      return `Reconnecting… (last seq ${s.seq ?? '–'})`;
    case 'offline':
      return 'Disconnected';
  }
}

function ConnectionState() {
  const status = useLiveStatus();
  return (
    <p class={`connection connection-${status.state}`} role="status" aria-live="polite" data-state={status.state} data-seq={status.seq ?? ''}>
      {describeStatus(status)}
    </p>
  );
}
