import type { FastifyInstance } from 'fastify';
import {
  type AuthContext,
  authenticate,
  bodyOf,
  checkPasswordStrength,
  clientInfo,
  hashPassword,
  inTransaction,
  objectField,
  passwordMatches,
  requirePassword,
  sessionResponse,
  signIn,
  validateEmail,
} from '../context.ts';
import { AuthError, badRequest, unprocessable } from '../errors.ts';
import { type LogoutScope, logout, logoutAllExcept, rotateRefreshToken } from '../sessions.ts';
import {
  audit,
  confirmEmail,
  findUserByEmail,
  findUserById,
  insertEmailUser,
  isBanned,
  mergeMetadata,
  userWithIdentities,
} from '../users.ts';

/** The end-user API supabase-js calls: signUp, signInWithPassword, refreshSession, getUser, updateUser, signOut. */
export function registerAccountRoutes(app: FastifyInstance, ctx: AuthContext): void {
  // POST /signup — email + password; autoconfirmed (GOTRUE_MAILER_AUTOCONFIRM=true), so it answers with a session.
  app.post('/signup', async (request) => {
    const body = bodyOf(request);
    if (!body.email && !body.phone) {
      throw unprocessable('anonymous_provider_disabled', 'Anonymous sign-ins are disabled');
    }
    if (body.phone && !body.email)
      throw unprocessable('phone_provider_disabled', 'Phone signups are disabled');
    const password = requirePassword(body.password, 'Signup requires a valid password');
    checkPasswordStrength(ctx, password);
    const email = validateEmail(body.email);
    const data = objectField(body, 'data') ?? {};
    const passwordHash = await hashPassword(ctx, password);

    return inTransaction(ctx.pool, async (tx) => {
      if (await findUserByEmail(tx, email, ctx.config.audience)) {
        throw unprocessable('user_already_exists', 'User already registered');
      }
      let user = await insertEmailUser(tx, {
        email,
        aud: ctx.config.audience,
        role: ctx.config.defaultRole,
        passwordHash,
        userMetaData: data,
        appMetaData: { provider: 'email', providers: ['email'] },
      }).catch((error: unknown) => {
        if (isUniqueViolation(error)) throw unprocessable('user_already_exists', 'User already registered');
        throw error;
      });
      await audit(tx, 'user_signedup', user, request.ip, { provider: 'email' });
      await confirmEmail(tx, user.id);
      user = (await findUserById(tx, user.id))!;
      await audit(tx, 'login', user, request.ip, { provider: 'email' });
      return signIn(ctx, tx, user, 'password', request);
    });
  });

  // POST /token?grant_type=password|refresh_token
  app.post('/token', async (request) => {
    const query = request.query as Record<string, string | undefined>;
    const body = bodyOf(request);
    const grantType = query.grant_type ?? (typeof body.grant_type === 'string' ? body.grant_type : undefined);
    if (grantType === 'password') return passwordGrant(ctx, request, body);
    if (grantType === 'refresh_token') return refreshTokenGrant(ctx, request, body);
    throw badRequest('invalid_credentials', 'unsupported_grant_type');
  });

  app.get('/user', async (request) => {
    const { user } = await authenticate(ctx, request);
    return userWithIdentities(ctx.pool, user);
  });

  // PUT /user — user_metadata (`data`), password, email (applied at once: autoconfirm).
  app.put('/user', async (request) => {
    const { user, sessionId } = await authenticate(ctx, request);
    const body = bodyOf(request);
    const data = objectField(body, 'data');
    const newPassword = typeof body.password === 'string' && body.password !== '' ? body.password : undefined;
    let passwordHash: string | undefined;
    if (newPassword !== undefined) {
      checkPasswordStrength(ctx, newPassword);
      if (await passwordMatches(user.encrypted_password, newPassword)) {
        throw unprocessable('same_password', 'New password should be different from the old password.');
      }
      passwordHash = await hashPassword(ctx, newPassword);
    }
    const newEmail =
      typeof body.email === 'string' && body.email !== '' && body.email.toLowerCase() !== user.email
        ? validateEmail(body.email)
        : undefined;

    return inTransaction(ctx.pool, async (tx) => {
      const current = (await findUserById(tx, user.id, true))!;
      if (data) {
        await tx.query('update auth.users set raw_user_meta_data = $2, updated_at = now() where id = $1', [
          user.id,
          mergeMetadata(current.raw_user_meta_data, data),
        ]);
      }
      if (passwordHash) {
        await tx.query(
          `update auth.users set encrypted_password = $2, recovery_token = '', recovery_sent_at = null,
             confirmation_token = '', updated_at = now() where id = $1`,
          [user.id, passwordHash],
        );
        await logoutAllExcept(tx, user.id, sessionId);
        await audit(tx, 'user_updated_password', current, request.ip);
      }
      if (newEmail) {
        if (await findUserByEmail(tx, newEmail, ctx.config.audience)) {
          throw unprocessable('email_exists', 'A user with this email address has already been registered');
        }
        await tx.query(
          `update auth.users set email = $2, email_change = '', email_change_token_new = '', updated_at = now()
           where id = $1`,
          [user.id, newEmail],
        );
        await tx.query(
          `update auth.identities set identity_data = identity_data || jsonb_build_object('email', $2::text),
             updated_at = now() where user_id = $1 and provider = 'email'`,
          [user.id, newEmail],
        );
      }
      if (data || passwordHash || newEmail) await audit(tx, 'user_modified', current, request.ip);
      return userWithIdentities(tx, (await findUserById(tx, user.id))!);
    });
  });

  // POST /logout?scope=global|local|others — 204; the access token stays valid for PostgREST until it expires.
  app.post('/logout', async (request, reply) => {
    const { user, sessionId } = await authenticate(ctx, request);
    const scopeParam = (request.query as Record<string, string | undefined>).scope ?? 'global';
    if (scopeParam !== 'global' && scopeParam !== 'local' && scopeParam !== 'others') {
      throw badRequest('validation_failed', `Unsupported logout scope "${scopeParam}"`);
    }
    await inTransaction(ctx.pool, async (tx) => {
      await logout(tx, user.id, sessionId, scopeParam as LogoutScope);
      await audit(tx, 'logout', user, request.ip);
    });
    return reply.code(204).send();
  });
}

async function passwordGrant(
  ctx: AuthContext,
  request: Parameters<typeof clientInfo>[0],
  body: Record<string, unknown>,
) {
  const email = typeof body.email === 'string' ? body.email : '';
  const phone = typeof body.phone === 'string' ? body.phone : '';
  const password = typeof body.password === 'string' ? body.password : '';
  if (email && phone) {
    throw badRequest(
      'validation_failed',
      'Only an email address or phone number should be provided on login.',
    );
  }
  if (!email && !phone) throw badRequest('validation_failed', 'missing email or phone');
  if (phone) throw new AuthError(422, 'phone_provider_disabled', 'Phone logins are disabled');

  const user = await findUserByEmail(ctx.pool, email, ctx.config.audience);
  const invalid = badRequest('invalid_credentials', 'Invalid login credentials');
  if (!user?.encrypted_password) throw invalid;
  if (isBanned(user)) throw badRequest('user_banned', 'User is banned');
  if (!(await passwordMatches(user.encrypted_password, password))) throw invalid;
  if (!user.email_confirmed_at) throw badRequest('email_not_confirmed', 'Email not confirmed');

  return inTransaction(ctx.pool, async (tx) => {
    await audit(tx, 'login', user, request.ip, { provider: 'email' });
    return signIn(ctx, tx, user, 'password', request);
  });
}

async function refreshTokenGrant(
  ctx: AuthContext,
  request: Parameters<typeof clientInfo>[0],
  body: Record<string, unknown>,
) {
  const presented = typeof body.refresh_token === 'string' ? body.refresh_token : '';
  if (!presented) throw badRequest('validation_failed', 'refresh_token required');
  // The failed-reuse outcome revokes the token family and must be committed before the error is returned.
  const outcome = await inTransaction(ctx.pool, async (tx) => {
    const result = await rotateRefreshToken(
      tx,
      presented,
      ctx.config.refreshTokenReuseIntervalSeconds,
      clientInfo(request),
    );
    if (!result.ok) return result;
    const user = await findUserById(tx, result.userId);
    if (!user) return { ok: false as const, error: badRequest('user_not_found', 'User not found') };
    if (isBanned(user))
      return { ok: false as const, error: badRequest('user_banned', 'Invalid Refresh Token: User Banned') };
    await audit(tx, 'token_refreshed', user, request.ip);
    return {
      ok: true as const,
      body: await sessionResponse(ctx, tx, user.id, result.sessionId, result.refreshToken),
    };
  });
  if (!outcome.ok) throw outcome.error;
  return outcome.body;
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === '23505';
}
