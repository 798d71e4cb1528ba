import type { SupabaseClient } from '@supabase/supabase-js';
import { type FormEvent, useId, useState } from 'react';
import { describeAuthError } from './auth-messages.ts';

type Mode = 'sign-in' | 'sign-up';

interface Props {
  supabase: SupabaseClient;
  magicLinkEnabled: boolean;
  notice?: string | undefined;
}

export function SignInForm({ supabase, magicLinkEnabled, notice }: Props) {
  const [mode, setMode] = useState<Mode>('sign-in');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>('');
  const [info, setInfo] = useState<string>(notice ?? '');
  const emailId = useId();
  const passwordId = useId();

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError('');
    setInfo('');
    try {
      if (mode === 'sign-in') {
        const { error: authError } = await supabase.auth.signInWithPassword({ email, password });
        if (authError) setError(describeAuthError(authError));
      } else {
        const { data, error: authError } = await supabase.auth.signUp({ email, password });
        if (authError) setError(describeAuthError(authError));
        else if (!data.session) setInfo('Check your email to confirm your account, then sign in.');
      }
    } catch {
      setError(describeAuthError({ status: 0 }));
    } finally {
      setBusy(false);
    }
  }

  async function sendMagicLink() {
    setBusy(true);
    setError('');
    setInfo('');
    try {
      const { error: authError } = await supabase.auth.signInWithOtp({
        email,
        options: { emailRedirectTo: window.location.origin, shouldCreateUser: false },
      });
      if (authError) setError(describeAuthError(authError));
      else setInfo('We sent you a sign-in link. Open it on this device.');
    } catch {
      setError(describeAuthError({ status: 0 }));
    } finally {
      setBusy(false);
    }
  }

  const title = mode === 'sign-in' ? 'Sign in' : 'Create your account';
  return (
    <main className="auth-page">
      <form className="card auth-card" onSubmit={submit} aria-labelledby="auth-title" noValidate={false}>
        <h1 id="auth-title">{title}</h1>
        <p className="muted">Talk with Claude by voice, right in your browser.</p>
        <label htmlFor={emailId}>Email</label>
        <input
          id={emailId}
          type="email"
          autoComplete="email"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <label htmlFor={passwordId}>Password</label>
        <input
          id={passwordId}
          type="password"
          autoComplete={mode === 'sign-in' ? 'current-password' : 'new-password'}
          required
          minLength={mode === 'sign-up' ? 8 : undefined}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <div aria-live="polite" className="form-messages">
          {error ? (
            <p className="form-error" role="alert">
              {error}
            </p>
          ) : null}
          {info ? <p className="form-info">{info}</p> : null}
        </div>
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? 'Please wait…' : title}
        </button>
        {magicLinkEnabled && mode === 'sign-in' ? (
          <button type="button" className="button" disabled={busy || !email} onClick={sendMagicLink}>
            Email me a sign-in link
          </button>
        ) : null}
        <p className="switch-mode">
          {mode === 'sign-in' ? 'New here?' : 'Already have an account?'}{' '}
          <button
            type="button"
            className="link-button"
            onClick={() => {
              setMode(mode === 'sign-in' ? 'sign-up' : 'sign-in');
              setError('');
              setInfo('');
            }}
          >
            {mode === 'sign-in' ? 'Create an account' : 'Sign in'}
          </button>
        </p>
      </form>
    </main>
  );
}
