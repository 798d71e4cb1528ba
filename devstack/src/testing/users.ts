import { randomBytes, randomUUID } from 'node:crypto';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { createServiceClient } from '@voice/core';
import WebSocket from 'ws';
import type { StackInfo } from '../stack-info.ts';

export type Tier = 'free' | 'core' | 'studio';

export interface TestUser {
  id: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
  /** supabase-js client (anon key) signed in as this user: its queries run under the user's RLS. */
  client: SupabaseClient;
}

/** A supabase-js client on the stack's gateway, as a browser would create it (Node 20 needs `ws` for realtime). */
export function anonClient(stack: StackInfo): SupabaseClient {
  return createClient(stack.supabaseUrl, stack.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: WebSocket as never },
  });
}

/** The service-role client (bypasses RLS), for setting up data a user could not write. */
export function serviceClient(stack: StackInfo): SupabaseClient {
  return createServiceClient(stack.supabaseUrl, stack.serviceRoleKey);
}

/**
 * Signs a new user up through the auth server with supabase-js (the profile trigger makes them `free`), then
 * sets `profiles.tier` with the service role when another tier is asked for.
 */
export async function createTestUser(
  stack: StackInfo,
  options: { tier?: Tier; email?: string } = {},
): Promise<TestUser> {
  const email = options.email ?? `test-${randomUUID()}@example.com`;
  const password = `pw-${randomBytes(12).toString('base64url')}`;
  const client = anonClient(stack);
  const { data, error } = await client.auth.signUp({ email, password });
  if (error) throw new Error(`sign up of ${email} failed: ${error.message}`);
  let session = data.session;
  if (!session) {
    // Sign-up without auto-confirm returns no session; the devstack auth server auto-confirms, so this is a fallback.
    const signIn = await client.auth.signInWithPassword({ email, password });
    if (signIn.error || !signIn.data.session)
      throw new Error(`sign in of ${email} failed: ${signIn.error?.message}`);
    session = signIn.data.session;
  }
  const id = session.user.id;
  if (options.tier && options.tier !== 'free') {
    const { error: tierError } = await serviceClient(stack)
      .from('profiles')
      .update({ tier: options.tier })
      .eq('id', id)
      .select('id')
      .single();
    if (tierError) throw new Error(`setting tier ${options.tier} for ${email} failed: ${tierError.message}`);
  }
  return {
    id,
    email,
    password,
    accessToken: session.access_token,
    refreshToken: session.refresh_token,
    client,
  };
}
