import type pg from 'pg';

/**
 * The roles a Supabase project has before any migration runs. Supabase Cloud (and `supabase start`) create
 * them; our bare PostgreSQL has none, so the devstack creates them here (dev only, never a migration):
 * - `anon`, `authenticated`, `service_role` (bypasses RLS): NOLOGIN roles PostgREST switches to per request,
 *   by the `role` claim of the JWT;
 * - `authenticator`: the LOGIN role PostgREST connects as, allowed to become the three above;
 * - `supabase_auth_admin`: the auth server's login role, owning schema `auth`, with `search_path = auth`.
 * Idempotent: a persistent data dir runs it on every start.
 */
export interface BootstrapPasswords {
  authenticator: string;
  authAdmin: string;
}

export async function bootstrapSupabaseRoles(
  client: pg.Client,
  passwords: BootstrapPasswords,
): Promise<void> {
  const literal = (value: string) => client.escapeLiteral(value);
  await client.query(`
    do $$
    begin
      if not exists (select 1 from pg_roles where rolname = 'postgres') then
        create role postgres superuser login;
      end if;
      if not exists (select 1 from pg_roles where rolname = 'anon') then
        create role anon nologin noinherit;
      end if;
      if not exists (select 1 from pg_roles where rolname = 'authenticated') then
        create role authenticated nologin noinherit;
      end if;
      if not exists (select 1 from pg_roles where rolname = 'service_role') then
        create role service_role nologin noinherit bypassrls;
      end if;
      if not exists (select 1 from pg_roles where rolname = 'authenticator') then
        create role authenticator login noinherit;
      end if;
      if not exists (select 1 from pg_roles where rolname = 'supabase_auth_admin') then
        create role supabase_auth_admin login noinherit createrole;
      end if;
    end
    $$;
    alter role authenticator with password ${literal(passwords.authenticator)};
    alter role supabase_auth_admin with password ${literal(passwords.authAdmin)};
    alter role supabase_auth_admin set search_path = auth;
    grant anon, authenticated, service_role to authenticator;
  `);
  await prepareSupabaseDatabase(client);
}

/**
 * The per-database part (schemas, grants and default privileges live in one database; roles are cluster-wide).
 * Run on its own for an extra database, e.g. the fresh ones the migration tests create.
 */
export async function prepareSupabaseDatabase(client: pg.Client): Promise<void> {
  await client.query(`
    create schema if not exists auth authorization supabase_auth_admin;
    grant usage on schema auth to anon, authenticated, service_role;
    grant usage on schema public to anon, authenticated, service_role;
    -- Supabase's default privileges: whatever the migration owner creates in public is fully granted to the API
    -- roles, and row level security is what actually guards the data. Copied so our RLS tests run against the
    -- same broad grants a real project has (a table without RLS would leak here as it would there).
    alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
    alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
    alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
  `);
}
