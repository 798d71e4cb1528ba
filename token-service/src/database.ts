import { createServiceClient } from '@voice/core';
import { DatabaseUnavailableError } from './errors.ts';
import { createRestRpc, type RestRpc } from './postgrest-rpc.ts';

/**
 * The service's way to the database. Default: PostgREST with the service role key (this file); with
 * TOKEN_DATABASE_URL, a direct Postgres pool (postgres-database.ts). Either way each call is bounded by a timeout,
 * so a hung database turns into a quick 503 instead of piling up requests.
 */

/** The service-role client from core (typed through core so this workspace needs no direct supabase-js dependency). */
export type ServiceClient = ReturnType<typeof createServiceClient>;

/** The session a room belongs to, as the webhook handler needs it. */
export interface SessionByRoom {
  id: string;
  user_id: string;
  status: string;
  end_reason: string | null;
}

/** The columns findSessionByRoom reads (both paths). */
export const SESSION_BY_ROOM_COLUMNS = 'id, user_id, status, end_reason';

export interface Database {
  /** Calls a SQL function and returns its result; throws DatabaseUnavailableError on any failure. */
  rpc<T>(fn: string, args: Record<string, unknown>): Promise<T>;
  /** Looks up a voice session by its LiveKit room name (webhooks know only the room). */
  findSessionByRoom(roomName: string): Promise<SessionByRoom | null>;
}

/**
 * SQL function calls (every token request) go through the lean `rpc` transport; the webhook's rare table read uses
 * supabase-js's query builder.
 */
export function createDatabase(client: ServiceClient, rpc: RestRpc, timeoutMs: number): Database {
  return {
    async rpc<T>(fn: string, args: Record<string, unknown>): Promise<T> {
      let reply: Awaited<ReturnType<RestRpc>>;
      try {
        reply = await rpc(fn, args, timeoutMs);
      } catch (error) {
        throw new DatabaseUnavailableError(fn, String(error));
      }
      if (reply.status < 200 || reply.status >= 300) {
        const error = (reply.body ?? {}) as { code?: string; message?: string };
        throw new DatabaseUnavailableError(
          fn,
          `status ${reply.status} ${error.code ?? ''} ${error.message ?? ''}`.trim(),
        );
      }
      return reply.body as T;
    },

    async findSessionByRoom(roomName) {
      let result: {
        data: SessionByRoom | null;
        error: { code?: string; message?: string } | null;
        status: number;
      };
      try {
        result = await client
          .from('voice_sessions')
          .select(SESSION_BY_ROOM_COLUMNS)
          .eq('room_name', roomName)
          .abortSignal(AbortSignal.timeout(timeoutMs))
          .maybeSingle();
      } catch (error) {
        throw new DatabaseUnavailableError('find session', String(error));
      }
      if (result.error) {
        throw new DatabaseUnavailableError(
          'find session',
          `status ${result.status} ${result.error.code ?? ''} ${result.error.message ?? ''}`.trim(),
        );
      }
      return result.data;
    },
  };
}

export function createServiceDatabase(url: string, serviceRoleKey: string, timeoutMs: number): Database {
  return createDatabase(
    createServiceClient(url, serviceRoleKey),
    createRestRpc(url, serviceRoleKey),
    timeoutMs,
  );
}
