/**
 * What a running devstack tells its users (npm start prints it; the vitest global setup provides it to tests
 * through `inject('stack')`). Every URL is on 127.0.0.1.
 */
export interface StackInfo {
  /** Supabase-style gateway: `/auth/v1/*` → auth server, `/rest/v1/*` → PostgREST. Use with createClient(). */
  supabaseUrl: string;
  anonKey: string;
  serviceRoleKey: string;
  /** HS256 secret that signs user access tokens and the anon/service keys. */
  jwtSecret: string;
  /** Superuser connection string (tests and migrations only). */
  databaseUrl: string;
  livekit: { url: string; apiKey: string; apiSecret: string };
  /**
   * Control endpoint for failure tests: `POST {controlUrl}/postgres/stop` and `/postgres/start` stop and start
   * the database while everything else keeps running.
   */
  controlUrl: string;
  /** Where each process writes its log. */
  logDir: string;
}
