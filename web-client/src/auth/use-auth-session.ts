import type { Session, SupabaseClient } from '@supabase/supabase-js';
import { useEffect, useState } from 'react';

export type AuthState =
  | { status: 'loading' }
  | { status: 'signed-out'; notice?: string }
  | { status: 'signed-in'; session: Session };

/** The current Supabase session; supabase-js persists it across reloads and refreshes it before expiry. */
export function useAuthSession(supabase: SupabaseClient): AuthState {
  const [state, setState] = useState<AuthState>({ status: 'loading' });

  useEffect(() => {
    let active = true;
    supabase.auth
      .getSession()
      .then(({ data, error }) => {
        if (!active) return;
        if (error)
          setState({ status: 'signed-out', notice: 'Your session could not be restored. Please sign in.' });
        else
          setState(data.session ? { status: 'signed-in', session: data.session } : { status: 'signed-out' });
      })
      .catch(
        () => active && setState({ status: 'signed-out', notice: 'Could not reach the sign-in service.' }),
      );
    const { data } = supabase.auth.onAuthStateChange((event, session) => {
      if (!active) return;
      if (session) setState({ status: 'signed-in', session });
      else
        setState({
          status: 'signed-out',
          ...(event === 'SIGNED_OUT' ? {} : { notice: 'Please sign in again.' }),
        });
    });
    return () => {
      active = false;
      data.subscription.unsubscribe();
    };
  }, [supabase]);

  return state;
}
