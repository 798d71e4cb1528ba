import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';

/**
 * A server-side Supabase client with the service role key (bypasses RLS). Never send this key to a browser.
 * Node 20 has no global WebSocket, which supabase-js's realtime client demands at construction, so we hand it `ws`.
 */
export function createServiceClient(url: string, serviceRoleKey: string): SupabaseClient {
  return createClient(url, serviceRoleKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: WebSocket as never },
    global: { headers: { 'x-client-info': 'voice-calls-server' } },
  });
}

/** A client acting as a user (anon key + the user's access token), e.g. for tests of RLS. */
export function createUserClient(url: string, anonKey: string, accessToken?: string): SupabaseClient {
  return createClient(url, anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: WebSocket as never },
    ...(accessToken ? { global: { headers: { Authorization: `Bearer ${accessToken}` } } } : {}),
  });
}
