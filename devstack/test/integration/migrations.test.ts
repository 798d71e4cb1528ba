import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { migrateAuthSchema } from '../../src/auth/index.ts';
import { prepareSupabaseDatabase } from '../../src/database/bootstrap.ts';
import { applyMigrations, listMigrations } from '../../src/database/migrations.ts';
import { testStack } from '../../src/testing/stack.ts';

const APP_TABLES = ['profiles', 'conversations', 'messages', 'usage_logs', 'voice_sessions'];

/**
 * supabase/migrations applied to fresh databases in the stack's cluster (never the shared one): an empty
 * project, and a project that already has the chat app's four tables with data.
 */
describe('supabase/migrations', () => {
  const stack = testStack();
  const created: string[] = [];

  function urlFor(database: string): string {
    const url = new URL(stack.databaseUrl);
    url.pathname = `/${database}`;
    return url.toString();
  }

  async function query<T extends pg.QueryResultRow>(database: string, sql: string, params: unknown[] = []) {
    const client = new pg.Client({ connectionString: urlFor(database) });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  /** A new database prepared as a Supabase project is before any migration: roles' grants and the auth schema. */
  async function freshProject(): Promise<string> {
    const name = `migrations_${randomUUID().replaceAll('-', '')}`;
    await query('postgres', `create database ${name}`);
    created.push(name);
    const client = new pg.Client({ connectionString: urlFor(name) });
    await client.connect();
    try {
      await prepareSupabaseDatabase(client);
      // The auth server creates the auth schema on start, as its own role (like GoTrue).
      await client.query('set role supabase_auth_admin; set search_path = auth');
      await migrateAuthSchema(client);
    } finally {
      await client.end();
    }
    return name;
  }

  async function expectSchemaInPlace(database: string): Promise<void> {
    const tables = await query<{ relname: string; relrowsecurity: boolean }>(
      database,
      `select relname, relrowsecurity from pg_class
       where relnamespace = 'public'::regnamespace and relkind = 'r' and relname = any($1) order by relname`,
      [APP_TABLES],
    );
    expect(tables.map((t) => t.relname)).toEqual([...APP_TABLES].sort());
    for (const table of tables) expect(table.relrowsecurity, `${table.relname} has RLS`).toBe(true);
    const recorded = await query<{ version: string }>(
      database,
      'select version from supabase_migrations.schema_migrations order by version',
    );
    expect(recorded.map((r) => r.version)).toEqual(listMigrations().map((m) => m.version));
    // Running again applies nothing: the tracking table is what `supabase db push` relies on.
    expect(await applyMigrations(urlFor(database))).toEqual([]);
    // A new auth user gets a free profile.
    const id = randomUUID();
    await query(
      database,
      `insert into auth.users (id, email, aud, role) values ($1, $2, 'authenticated', 'authenticated')`,
      [id, `${id}@example.com`],
    );
    expect(await query(database, 'select tier from public.profiles where id = $1', [id])).toEqual([
      { tier: 'free' },
    ]);
  }

  afterAll(async () => {
    for (const name of created) await query('postgres', `drop database if exists ${name} with (force)`);
  });

  it('apply to an empty project', async () => {
    const database = await freshProject();
    expect(await applyMigrations(urlFor(database))).toEqual(listMigrations().map((m) => m.version));
    await expectSchemaInPlace(database);
  });

  it('apply to a project that already has the app tables with data, losing nothing', async () => {
    const database = await freshProject();
    // The chat app's tables as it created them before voice (no updated_at columns, nullable metadata, a legacy
    // tier value and a profile column we do not know), with rows as the seed's code writes them.
    await query(
      database,
      `create table public.profiles (
         id uuid primary key references auth.users (id) on delete cascade,
         email text, full_name text, tier text default 'free', created_at timestamptz default now());
       create table public.conversations (
         id uuid primary key default gen_random_uuid(), user_id uuid references auth.users (id), title text,
         created_at timestamptz default now());
       create table public.messages (
         id uuid primary key default gen_random_uuid(), conversation_id uuid references public.conversations (id),
         user_id uuid references auth.users (id), role text, content text, type text default 'text', metadata jsonb,
         created_at timestamptz default now());
       create table public.usage_logs (
         id uuid primary key default gen_random_uuid(), user_id uuid references auth.users (id), feature text,
         tokens_used integer, estimated_cost numeric(10, 4), metadata jsonb, created_at timestamptz default now());
       alter table public.profiles enable row level security;
       create policy "Users can view own profile" on public.profiles for select using (auth.uid() = id);`,
    );
    const [studio, legacy] = [randomUUID(), randomUUID()];
    await query(
      database,
      `insert into auth.users (id, email, aud, role) values ($1, 's@example.com', 'authenticated', 'authenticated'),
                                                         ($2, 'l@example.com', 'authenticated', 'authenticated');
       insert into public.profiles (id, email, full_name, tier) values ($1, 's@example.com', 'Studio User', 'studio'),
                                                                       ($2, 'l@example.com', null, 'pro');
       with c as (insert into public.conversations (user_id, title) values ($1, 'Trip plans') returning id)
       insert into public.messages (conversation_id, user_id, role, content, type, metadata)
       select id, $1, 'user', 'Where should we go?', 'text', '{"voice_call": true, "confidence": 0.93}'::jsonb from c
       union all select id, $1, 'assistant', 'Lisbon.', 'text', null from c;
       insert into public.usage_logs (user_id, feature, tokens_used, estimated_cost, metadata)
       values ($1, 'voice_call', 1234, 0.0421, '{"session_id": "legacy-1", "tts_characters": 80}'::jsonb),
              ($2, 'chat', 10, 0.0001, null);`
        .replace(/\$1/g, `'${studio}'::uuid`)
        .replace(/\$2/g, `'${legacy}'::uuid`),
    );
    const snapshot = async () => ({
      profiles: await query(
        database,
        'select id, email, full_name, tier, created_at from public.profiles order by id',
      ),
      conversations: await query(
        database,
        'select id, user_id, title, created_at from public.conversations order by id',
      ),
      messages: await query(
        database,
        'select id, conversation_id, user_id, role, content, type, metadata, created_at from public.messages order by id',
      ),
      usage_logs: await query(
        database,
        'select id, user_id, feature, tokens_used, estimated_cost::text, metadata, created_at from public.usage_logs order by id',
      ),
    });
    const before = await snapshot();
    expect(before.messages).toHaveLength(2);

    expect(await applyMigrations(urlFor(database))).toEqual(listMigrations().map((m) => m.version));

    expect(await snapshot()).toEqual(before);
    // New columns arrived with their defaults on old rows.
    const conversations = await query<{ updated_at: Date | null }>(
      database,
      'select updated_at from public.conversations',
    );
    expect(conversations[0]?.updated_at).toBeInstanceOf(Date);
    // The app's own policy is still there next to ours.
    const policies = await query<{ policyname: string }>(
      database,
      `select policyname from pg_policies where tablename = 'profiles' order by policyname`,
    );
    expect(policies.map((p) => p.policyname)).toContain('Users can view own profile');
    await expectSchemaInPlace(database);
  });
});
