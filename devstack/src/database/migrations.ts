import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/** supabase/migrations in this repository. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../supabase/migrations/', import.meta.url));

export interface MigrationFile {
  /** The timestamp prefix, as the Supabase CLI keys migrations. */
  version: string;
  name: string;
  file: string;
}

/** `<version>_<name>.sql` files in order, as `supabase db push` reads them. */
export function listMigrations(dir = MIGRATIONS_DIR): MigrationFile[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .sort()
    .map((f) => {
      const match = /^(\d+)_(.+)\.sql$/.exec(f)!;
      return { version: match[1]!, name: match[2]!, file: path.join(dir, f) };
    });
}

/**
 * Applies the migrations not yet recorded, each in its own transaction, recording them in
 * supabase_migrations.schema_migrations like the Supabase CLI does (same table, same columns), so a database
 * migrated here and one migrated by `supabase db push` agree on what has run. Returns the versions applied.
 */
export async function applyMigrations(databaseUrl: string, dir = MIGRATIONS_DIR): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`
      create schema if not exists supabase_migrations;
      create table if not exists supabase_migrations.schema_migrations (
        version text not null primary key,
        statements text[],
        name text
      );
    `);
    // Two stacks never share a database, but a second `up` against the same data dir might race: serialize.
    await client.query('select pg_advisory_lock(hashtext($1))', ['supabase_migrations']);
    const done = new Set(
      (
        await client.query<{ version: string }>('select version from supabase_migrations.schema_migrations')
      ).rows.map((r) => r.version),
    );
    const applied: string[] = [];
    for (const migration of listMigrations(dir)) {
      if (done.has(migration.version)) continue;
      const sql = readFileSync(migration.file, 'utf8');
      try {
        await client.query('begin');
        await client.query(sql);
        await client.query(
          'insert into supabase_migrations.schema_migrations (version, statements, name) values ($1, $2, $3)',
          [migration.version, [sql], migration.name],
        );
        await client.query('commit');
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        const message = error instanceof Error ? error.message : String(error);
        throw new Error(`Migration ${path.basename(migration.file)} failed: ${message}`, { cause: error });
      }
      applied.push(migration.version);
    }
    // PostgREST caches the schema; new tables and functions are invisible (PGRST202/205) until it reloads.
    await client.query(`notify pgrst, 'reload schema'`);
    return applied;
  } finally {
    await client.end();
  }
}
