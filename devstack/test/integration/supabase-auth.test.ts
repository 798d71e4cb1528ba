import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { testStack } from '../../src/testing/stack.ts';
import { anonClient } from '../../src/testing/users.ts';

// supabase-js, unchanged, against the devstack gateway: the auth server under /auth/v1, PostgREST under /rest/v1.
describe('supabase-js through the gateway', () => {
  const stack = testStack();

  it('signs up, signs in, reads its own free profile, and refreshes the session', async () => {
    const email = `auth-${randomUUID()}@example.com`;
    const password = 'correct horse battery staple';

    const signUpClient = anonClient(stack);
    const signUp = await signUpClient.auth.signUp({ email, password });
    expect(signUp.error).toBeNull();
    const userId = signUp.data.user?.id;
    expect(userId).toMatch(/^[0-9a-f-]{36}$/);

    const client = anonClient(stack);
    const signIn = await client.auth.signInWithPassword({ email, password });
    expect(signIn.error).toBeNull();
    expect(signIn.data.user?.id).toBe(userId);
    const firstSession = signIn.data.session!;

    // The profile trigger created the row; RLS lets the user read it (and only it).
    const profiles = await client.from('profiles').select('id, tier');
    expect(profiles.error).toBeNull();
    expect(profiles.data).toEqual([{ id: userId, tier: 'free' }]);

    const refreshed = await client.auth.refreshSession();
    expect(refreshed.error).toBeNull();
    expect(refreshed.data.session?.refresh_token).toBeTruthy();
    expect(refreshed.data.session?.refresh_token).not.toBe(firstSession.refresh_token);
    expect(refreshed.data.user?.id).toBe(userId);
    // The refreshed access token works against PostgREST too.
    const again = await client.from('profiles').select('tier').single();
    expect(again.data).toEqual({ tier: 'free' });
  });

  it('rejects a wrong password and an unknown apikey', async () => {
    const client = anonClient(stack);
    const wrong = await client.auth.signInWithPassword({
      email: `nobody-${randomUUID()}@example.com`,
      password: 'x'.repeat(10),
    });
    expect(wrong.error?.status).toBe(400);

    const noKey = await fetch(`${stack.supabaseUrl}/rest/v1/profiles`);
    expect(noKey.status).toBe(401);
    const badKey = await fetch(`${stack.supabaseUrl}/rest/v1/profiles`, { headers: { apikey: 'not-a-key' } });
    expect(badKey.status).toBe(401);
  });

  it('answers CORS preflights like Supabase, so browser code works', async () => {
    const response = await fetch(`${stack.supabaseUrl}/rest/v1/profiles`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:5173',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'apikey, authorization, x-client-info',
      },
    });
    expect(response.status).toBeLessThan(300);
    expect(response.headers.get('access-control-allow-origin')).toBeTruthy();
    expect(response.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('apikey');
  });
});
