import { randomBytes, randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type pg from 'pg';
import { type AuthError, badRequest } from './errors.ts';
import { NIL_INSTANCE_ID, type Queryable, type UserRow } from './users.ts';

/** How the session was authenticated (GoTrue's models.AuthenticationMethod values, as they appear in `amr`). */
export type AuthenticationMethod = 'password' | 'otp' | 'magiclink' | 'recovery' | 'token_refresh';

export interface AmrEntry {
  method: string;
  timestamp: number;
}

export interface ClientInfo {
  userAgent: string | undefined;
  ip: string | undefined;
}

interface RefreshTokenRow {
  id: string;
  token: string;
  user_id: string;
  revoked: boolean;
  updated_at: Date;
  parent: string | null;
  session_id: string | null;
}

interface SessionRow {
  id: string;
  user_id: string;
  not_after: Date | null;
}

/** Opaque refresh token string (GoTrue v1 tokens are short random strings stored in auth.refresh_tokens). */
function newRefreshTokenString(): string {
  return randomBytes(16).toString('base64url');
}

async function insertRefreshToken(
  tx: pg.PoolClient,
  userId: string,
  sessionId: string,
  parent: string | null,
): Promise<string> {
  const token = newRefreshTokenString();
  await tx.query(
    `insert into auth.refresh_tokens (instance_id, token, user_id, revoked, parent, session_id, created_at, updated_at)
     values ($1, $2, $3, false, $4, $5, now(), now())`,
    [NIL_INSTANCE_ID, token, userId, parent, sessionId],
  );
  return token;
}

/**
 * Signs a user in (models.GrantAuthenticatedUser + AddClaimToSession): a new auth.sessions row, its first refresh
 * token, the amr claim, and last_sign_in_at on the user and identity.
 */
export async function startSession(
  tx: pg.PoolClient,
  user: UserRow,
  method: AuthenticationMethod,
  client: ClientInfo,
): Promise<{ sessionId: string; refreshToken: string }> {
  const sessionId = randomUUID();
  await tx.query(
    `insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip)
     values ($1, $2, now(), now(), 'aal1', $3, $4)`,
    [sessionId, user.id, client.userAgent ?? null, normalizeIp(client.ip)],
  );
  const refreshToken = await insertRefreshToken(tx, user.id, sessionId, null);
  await tx.query(
    `insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
     values ($1, $2, now(), now(), $3)
     on conflict (session_id, authentication_method) do update set updated_at = excluded.updated_at`,
    [randomUUID(), sessionId, method],
  );
  await tx.query('update auth.users set last_sign_in_at = now(), updated_at = now() where id = $1', [
    user.id,
  ]);
  await tx.query('update auth.identities set last_sign_in_at = now() where user_id = $1', [user.id]);
  return { sessionId, refreshToken };
}

/** The session's amr claim, most recent method first (session.CalculateAALAndAMR). */
export async function sessionAmr(db: Queryable, sessionId: string): Promise<AmrEntry[]> {
  const { rows } = await db.query<{ authentication_method: string; updated_at: Date }>(
    'select authentication_method, updated_at from auth.mfa_amr_claims where session_id = $1 order by updated_at desc',
    [sessionId],
  );
  return rows.map((row) => ({
    method: row.authentication_method,
    timestamp: Math.floor(row.updated_at.getTime() / 1000),
  }));
}

export async function sessionExists(db: Queryable, sessionId: string): Promise<boolean> {
  const { rowCount } = await db.query('select 1 from auth.sessions where id = $1', [sessionId]);
  return (rowCount ?? 0) > 0;
}

export type RefreshOutcome =
  | { ok: true; userId: string; sessionId: string; refreshToken: string }
  | { ok: false; error: AuthError };

/**
 * The refresh_token grant with GoTrue's rotation rules (tokens.Service.RefreshTokenGrant, v1 tokens):
 * - an active token is revoked and replaced by a child token (rotation);
 * - a revoked token whose child is the session's active token is answered with that active token (the client
 *   lost the last response; nothing new is minted);
 * - any other revoked token is accepted only within `reuseIntervalSeconds` of its revocation; after that it is
 *   reuse (possible theft): every token of the session is revoked and 400 refresh_token_already_used returned.
 * The revocation is committed even though the request fails, so the caller must commit an `ok: false` outcome.
 */
export async function rotateRefreshToken(
  tx: pg.PoolClient,
  presented: string,
  reuseIntervalSeconds: number,
  client: ClientInfo,
): Promise<RefreshOutcome> {
  const { rows: tokens } = await tx.query<RefreshTokenRow>(
    'select id, token, user_id, revoked, updated_at, parent, session_id from auth.refresh_tokens where token = $1 for update',
    [presented],
  );
  const token = tokens[0];
  if (!token) {
    return {
      ok: false,
      error: badRequest('refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found'),
    };
  }
  const { rows: sessions } = token.session_id
    ? await tx.query<SessionRow>(
        'select id, user_id, not_after from auth.sessions where id = $1 for update',
        [token.session_id],
      )
    : { rows: [] as SessionRow[] };
  const session = sessions[0];
  if (!session) {
    await tx.query('delete from auth.refresh_tokens where id = $1', [token.id]);
    return {
      ok: false,
      error: badRequest('session_not_found', 'Invalid Refresh Token: No Valid Session Found'),
    };
  }
  if (session.not_after && session.not_after.getTime() < Date.now()) {
    return { ok: false, error: badRequest('session_expired', 'Invalid Refresh Token: Session Expired') };
  }

  let issued: string | undefined;
  if (token.revoked) {
    const { rows: active } = await tx.query<{ token: string; parent: string | null }>(
      `select token, parent from auth.refresh_tokens where session_id = $1 and revoked = false
       order by updated_at desc, id desc limit 1`,
      [session.id],
    );
    if (active[0] && active[0].parent === token.token) {
      issued = active[0].token;
    } else if (Date.now() > token.updated_at.getTime() + reuseIntervalSeconds * 1000) {
      // models.RevokeTokenFamily: the whole session's token family is revoked.
      await tx.query(
        'update auth.refresh_tokens set revoked = true, updated_at = now() where session_id = $1 and revoked = false',
        [session.id],
      );
      return {
        ok: false,
        error: badRequest('refresh_token_already_used', 'Invalid Refresh Token: Already Used'),
      };
    }
  }
  if (issued === undefined) {
    // models.GrantRefreshTokenSwap
    await tx.query('update auth.refresh_tokens set revoked = true, updated_at = now() where id = $1', [
      token.id,
    ]);
    issued = await insertRefreshToken(tx, session.user_id, session.id, token.token);
  }
  await tx.query(
    `update auth.sessions set refreshed_at = timezone('utc', now()), user_agent = $2, ip = $3, updated_at = now()
     where id = $1`,
    [session.id, client.userAgent ?? null, normalizeIp(client.ip)],
  );
  return { ok: true, userId: session.user_id, sessionId: session.id, refreshToken: issued };
}

export type LogoutScope = 'global' | 'local' | 'others';

/** Deleting sessions cascades to their refresh tokens and amr claims (models.Logout / LogoutSession / ...). */
export async function logout(
  db: Queryable,
  userId: string,
  sessionId: string | undefined,
  scope: LogoutScope,
) {
  if (scope === 'local' && sessionId) {
    await db.query('delete from auth.sessions where id = $1', [sessionId]);
  } else if (scope === 'others' && sessionId) {
    await db.query('delete from auth.sessions where user_id = $1 and id <> $2', [userId, sessionId]);
  } else {
    await db.query('delete from auth.sessions where user_id = $1', [userId]);
  }
}

/** After a password change GoTrue signs the user out everywhere except the session that changed it. */
export async function logoutAllExcept(db: Queryable, userId: string, sessionId: string | undefined) {
  await logout(db, userId, sessionId, sessionId ? 'others' : 'global');
}

/** sessions.ip is `inet`: anything that is not an address (a forged X-Forwarded-For) is stored as null. */
function normalizeIp(ip: string | undefined): string | null {
  if (!ip) return null;
  const address = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return isIP(address) ? address : null;
}
