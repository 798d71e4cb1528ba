import type { Logger } from '@voice/core';
import pg from 'pg';
import { type Database, SESSION_BY_ROOM_COLUMNS, type SessionByRoom } from './database.ts';
import { DatabaseUnavailableError } from './errors.ts';

/**
 * The Database over a direct Postgres connection pool (TOKEN_DATABASE_URL), for deployments where the two HTTP
 * hops of the default path (API gateway → PostgREST) cost more than the SQL itself: per token, the profile of
 * the local stack put the gateway and PostgREST together above the whole claim in Postgres. The SQL is the same
 * functions PostgREST calls (security definer; the limits stay atomic in `claim_voice_session`), so both paths
 * decide identically.
 *
 * Plain parameterised statements, no named prepared statements: Supabase's transaction pooler (port 6543) hands
 * each statement to whichever server connection is free, where a statement prepared elsewhere does not exist.
 */
export interface PostgresDatabase extends Database {
  close(): Promise<void>;
}

/** SQL identifiers we generate calls from: our own function and argument names, never client input. */
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

export function createPostgresDatabase(options: {
  url: string;
  poolSize: number;
  timeoutMs: number;
  logger: Logger;
}): PostgresDatabase {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    // Waiting for a free connection and each statement are both bounded: a hung database is a quick 503.
    // (Client-side only: a server-side statement_timeout would be a startup parameter, which poolers such as
    // PgBouncer refuse.)
    connectionTimeoutMillis: options.timeoutMs,
    query_timeout: options.timeoutMs,
    application_name: 'voice-token-service',
    idleTimeoutMillis: 60_000,
  });
  // A pooled connection that breaks while idle (database restart) must not crash the process; the next
  // statement opens a new one.
  pool.on('error', (error) => options.logger.warn({ err: error.message }, 'database connection lost'));

  async function query<R extends pg.QueryResultRow>(
    operation: string,
    text: string,
    values: unknown[],
  ): Promise<pg.QueryResult<R>> {
    try {
      return await pool.query<R>(text, values);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      const code = (error as { code?: unknown }).code;
      throw new DatabaseUnavailableError(operation, `${typeof code === 'string' ? `${code} ` : ''}${detail}`);
    }
  }

  return {
    async rpc<T>(fn: string, args: Record<string, unknown>): Promise<T> {
      const names = Object.keys(args);
      if (!IDENTIFIER.test(fn) || !names.every((n) => IDENTIFIER.test(n))) {
        throw new DatabaseUnavailableError(fn, 'invalid function or argument name');
      }
      // Named arguments, like PostgREST's /rpc: the call does not depend on the declared argument order.
      const call = `select public.${fn}(${names.map((n, i) => `${n} => $${i + 1}`).join(', ')}) as result`;
      const result = await query<{ result: T }>(fn, call, Object.values(args));
      return result.rows[0]?.result as T;
    },

    async findSessionByRoom(roomName) {
      const result = await query<SessionByRoom>(
        'find session',
        `select ${SESSION_BY_ROOM_COLUMNS} from public.voice_sessions where room_name = $1`,
        [roomName],
      );
      return result.rows[0] ?? null;
    },

    close: () => pool.end(),
  };
}
