// Sign in with tenant, email and password, or with an API key; shows why the last session ended.
import { useState } from 'preact/hooks';
import { session } from '../session.js';
import { ErrorLine, field } from '../ui.js';

export function SignIn({ message }: { message: string | null }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [withKey, setWithKey] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(null);
    try {
      if (withKey) await session.signInWithKey(field(f, 'key').trim());
      else await session.signIn(field(f, 'tenant').trim(), field(f, 'email').trim(), field(f, 'password'));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="signin">
      <h1>AppInventory Live</h1>
      {message ? (
        <p class="notice" role="status">
          {message}
        </p>
      ) : null}
      <form onSubmit={(e) => void submit(e)} aria-label="Sign in">
        {withKey ? (
          <>
            <label for="key">API key</label>
            <input id="key" name="key" required autoComplete="off" />
          </>
        ) : (
          <>
            <label for="tenant">Tenant</label>
            <input id="tenant" name="tenant" required autoComplete="organization" />
            <label for="email">Email</label>
            <input id="email" name="email" type="email" required autoComplete="username" />
            <label for="password">Password</label>
            <input id="password" name="password" type="password" required autoComplete="current-password" />
          </>
        )}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <ErrorLine message={error} />
      </form>
      <button type="button" class="link" onClick={() => setWithKey(!withKey)}>
        {withKey ? 'Sign in with a password instead' : 'Sign in with an API key instead'}
      </button>
    </main>
  );
}
