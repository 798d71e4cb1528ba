import type { SupabaseClient } from '@supabase/supabase-js';
import { useEffect, useMemo, useState } from 'react';
import { SignInForm } from './auth/SignInForm.tsx';
import { useAuthSession } from './auth/use-auth-session.ts';
import { loadRuntimeConfig, type RuntimeConfig } from './config/runtime-config.ts';
import { Workspace } from './conversations/Workspace.tsx';
import { createBrowserSupabase } from './supabase-client.ts';
import { SimulatedBanner } from './ui/SimulatedBanner.tsx';

type ConfigState =
  | { status: 'loading' }
  | { status: 'ready'; config: RuntimeConfig }
  | { status: 'error'; message: string };

export function App() {
  const [configState, setConfigState] = useState<ConfigState>({ status: 'loading' });
  const [attempt, setAttempt] = useState(0);

  // biome-ignore lint/correctness/useExhaustiveDependencies: attempt is the retry trigger
  useEffect(() => {
    let cancelled = false;
    setConfigState({ status: 'loading' });
    loadRuntimeConfig()
      .then((config) => !cancelled && setConfigState({ status: 'ready', config }))
      .catch((error: Error) => !cancelled && setConfigState({ status: 'error', message: error.message }));
    return () => {
      cancelled = true;
    };
  }, [attempt]);

  if (configState.status === 'loading') {
    return (
      <main className="centered" aria-busy="true">
        <p role="status">Loading…</p>
      </main>
    );
  }
  if (configState.status === 'error') {
    return (
      <main className="centered">
        <div className="notice notice-error" role="alert">
          <h1>The app could not start</h1>
          <p>Its configuration did not load ({configState.message}). Check your connection and try again.</p>
          <button type="button" className="button" onClick={() => setAttempt((n) => n + 1)}>
            Try again
          </button>
        </div>
      </main>
    );
  }
  return <ConfiguredApp config={configState.config} />;
}

function ConfiguredApp({ config }: { config: RuntimeConfig }) {
  const supabase = useMemo<SupabaseClient>(() => createBrowserSupabase(config), [config]);
  const auth = useAuthSession(supabase);

  return (
    <>
      {config.simulatedProviders ? <SimulatedBanner /> : null}
      {auth.status === 'loading' ? (
        <main className="centered" aria-busy="true">
          <p role="status">Checking your session…</p>
        </main>
      ) : auth.status === 'signed-out' ? (
        <SignInForm
          supabase={supabase}
          magicLinkEnabled={config.magicLinkEnabled === true}
          notice={auth.notice}
        />
      ) : (
        <Workspace supabase={supabase} session={auth.session} config={config} />
      )}
    </>
  );
}
