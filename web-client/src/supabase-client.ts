import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import type { RuntimeConfig } from './config/runtime-config.ts';

/**
 * The browser's Supabase client: anon key only, the user's session persisted in localStorage (kept across reloads,
 * refreshed automatically). Row level security decides what it may read.
 */
export function createBrowserSupabase(config: RuntimeConfig): SupabaseClient {
  return createClient(config.supabaseUrl, config.supabaseAnonKey, {
    auth: { persistSession: true, autoRefreshToken: true, detectSessionInUrl: true },
  });
}
