import type { Logger } from '@voice/core';
import bcrypt from 'bcryptjs';
import type { FastifyRequest } from 'fastify';
import type { JWTPayload } from 'jose';
import type pg from 'pg';
import { AuthError, forbidden, unauthorized, unprocessable } from './errors.ts';
import type { Keyring } from './keys.ts';
import {
  type AuthenticationMethod,
  type ClientInfo,
  sessionAmr,
  sessionExists,
  startSession,
} from './sessions.ts';
import { findUserById, type UserRow, userWithIdentities } from './users.ts';

/** A message this server would have e-mailed (there is no mailer; see AuthServerOptions.onEmail). */
export interface OutgoingEmail {
  to: string;
  type: 'magiclink' | 'signup' | 'recovery';
  /** The 6-digit code the e-mail shows (verifyOtp({ email, token, type: 'email' })). */
  otp: string;
  /** The hashed token of the link (verifyOtp({ token_hash, type })). */
  tokenHash: string;
  actionLink: string;
}

export interface AuthConfig {
  /** `iss` of every access token: `<public url>/auth/v1`, as on Supabase. */
  issuer: string;
  /** Where the auth API is reachable from outside (the gateway's `/auth/v1`), for links in e-mails. */
  externalUrl: string;
  siteUrl: string;
  jwtExpirySeconds: number;
  audience: string;
  defaultRole: string;
  passwordMinLength: number;
  bcryptCost: number;
  refreshTokenReuseIntervalSeconds: number;
  otpExpirySeconds: number;
  onEmail: ((email: OutgoingEmail) => void) | undefined;
}

export interface AuthContext {
  pool: pg.Pool;
  keys: Keyring;
  config: AuthConfig;
  log: Logger;
}

/** GoTrue's access token claims, in GoTrue's order. */
export interface AccessTokenClaims extends JWTPayload {
  sub: string;
  role: string;
  session_id?: string;
  is_anonymous?: boolean;
}

export async function inTransaction<T>(pool: pg.Pool, work: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
  const tx = await pool.connect();
  try {
    await tx.query('begin');
    const result = await work(tx);
    await tx.query('commit');
    return result;
  } catch (error) {
    await tx.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    tx.release();
  }
}

export function clientInfo(request: FastifyRequest): ClientInfo {
  const userAgent = request.headers['user-agent'];
  return { userAgent: typeof userAgent === 'string' ? userAgent : undefined, ip: request.ip };
}

export async function hashPassword(ctx: AuthContext, password: string): Promise<string> {
  return bcrypt.hash(password, ctx.config.bcryptCost);
}

export async function passwordMatches(hash: string | null, password: string): Promise<boolean> {
  if (!hash) return false;
  try {
    return await bcrypt.compare(password, hash);
  } catch {
    return false;
  }
}

/** GoTrue's minimum-length rule, with the weak_password payload auth-js turns into AuthWeakPasswordError. */
export function checkPasswordStrength(ctx: AuthContext, password: string): void {
  if (password.length < ctx.config.passwordMinLength) {
    throw new AuthError(
      422,
      'weak_password',
      `Password should be at least ${ctx.config.passwordMinLength} characters.`,
      { weak_password: { reasons: ['length'] } },
    );
  }
}

/** Signs the access token for a user's session (tokens.Service.GenerateAccessToken). */
export async function accessToken(
  ctx: AuthContext,
  db: pg.Pool | pg.PoolClient,
  user: UserRow,
  sessionId: string,
): Promise<{ token: string; expiresAt: number }> {
  const issuedAt = Math.floor(Date.now() / 1000);
  const expiresAt = issuedAt + ctx.config.jwtExpirySeconds;
  const claims: AccessTokenClaims = {
    iss: ctx.config.issuer,
    sub: user.id,
    aud: user.aud ?? ctx.config.audience,
    exp: expiresAt,
    iat: issuedAt,
    email: user.email ?? '',
    phone: user.phone ?? '',
    app_metadata: user.raw_app_meta_data ?? {},
    user_metadata: user.raw_user_meta_data ?? {},
    role: user.role ?? '',
    aal: 'aal1',
    amr: await sessionAmr(db, sessionId),
    session_id: sessionId,
    is_anonymous: user.is_anonymous,
  };
  return { token: await ctx.keys.sign(claims), expiresAt };
}

/** The AccessTokenResponse body every sign-in path returns. */
export async function sessionResponse(
  ctx: AuthContext,
  db: pg.Pool | pg.PoolClient,
  userId: string,
  sessionId: string,
  refreshToken: string,
): Promise<Record<string, unknown>> {
  const user = await findUserById(db, userId);
  if (!user) throw new AuthError(500, 'unexpected_failure', 'User disappeared while signing in');
  const { token, expiresAt } = await accessToken(ctx, db, user, sessionId);
  return {
    access_token: token,
    token_type: 'bearer',
    expires_in: ctx.config.jwtExpirySeconds,
    expires_at: expiresAt,
    refresh_token: refreshToken,
    user: await userWithIdentities(db, user),
  };
}

/** Starts a session inside `tx` and answers with the session body (issueRefreshToken). */
export async function signIn(
  ctx: AuthContext,
  tx: pg.PoolClient,
  user: UserRow,
  method: AuthenticationMethod,
  request: FastifyRequest,
): Promise<Record<string, unknown>> {
  const { sessionId, refreshToken } = await startSession(tx, user, method, clientInfo(request));
  return sessionResponse(ctx, tx, user.id, sessionId, refreshToken);
}

export function bearerToken(request: FastifyRequest): string {
  const match = /^[Bb]earer (\S+)$/.exec(request.headers.authorization ?? '');
  if (!match?.[1]) throw unauthorized('no_authorization', 'This endpoint requires a Bearer token');
  return match[1];
}

/** requireAuthentication + maybeLoadUserOrSession: a verified token whose user (and session, if named) exists. */
export async function authenticate(
  ctx: AuthContext,
  request: FastifyRequest,
): Promise<{ claims: AccessTokenClaims; user: UserRow; sessionId: string | undefined }> {
  const claims = (await ctx.keys.verify(bearerToken(request))) as AccessTokenClaims;
  if (!claims.sub) throw forbidden('bad_jwt', 'invalid claim: missing sub claim');
  const user = await findUserById(ctx.pool, claims.sub);
  if (!user) {
    if (!/^[0-9a-f-]{36}$/i.test(claims.sub)) {
      throw new AuthError(400, 'bad_jwt', 'invalid claim: sub claim must be a UUID');
    }
    throw forbidden('user_not_found', 'User from sub claim in JWT does not exist');
  }
  const sessionId = claims.session_id && claims.session_id !== NIL_UUID ? claims.session_id : undefined;
  if (sessionId && !(await sessionExists(ctx.pool, sessionId))) {
    throw forbidden('session_not_found', 'Session from session_id claim in JWT does not exist');
  }
  return { claims, user, sessionId };
}

const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** requireAdminCredentials: a verified token whose role is service_role or supabase_admin. */
export async function requireAdmin(ctx: AuthContext, request: FastifyRequest): Promise<void> {
  const claims = await ctx.keys.verify(bearerToken(request));
  const role = typeof claims.role === 'string' ? claims.role : '';
  if (role !== 'service_role' && role !== 'supabase_admin') throw forbidden('not_admin', 'User not allowed');
}

/** GoTrue's email check (validateEmail): required, at most 255 characters, a plausible address. */
export function validateEmail(email: unknown): string {
  if (typeof email !== 'string' || email.trim() === '') {
    throw new AuthError(400, 'validation_failed', 'An email address is required');
  }
  if (email.length > 255) throw new AuthError(400, 'validation_failed', 'An email address is too long');
  if (
    !/^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/.test(
      email.trim(),
    )
  ) {
    throw new AuthError(400, 'validation_failed', 'Unable to validate email address: invalid format');
  }
  return email.trim().toLowerCase();
}

export function requirePassword(password: unknown, message: string): string {
  if (typeof password !== 'string' || password === '') throw unprocessable('validation_failed', message);
  return password;
}

export type Body = Record<string, unknown>;

export function bodyOf(request: FastifyRequest): Body {
  const body = request.body;
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Body) : {};
}

export function objectField(body: Body, key: string): Record<string, unknown> | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new AuthError(400, 'bad_json', `Could not read request body: ${key} must be an object`);
  }
  return value as Record<string, unknown>;
}
