import { createHash, randomInt, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type pg from 'pg';
import {
  type AuthContext,
  bodyOf,
  checkPasswordStrength,
  hashPassword,
  inTransaction,
  objectField,
  requireAdmin,
  signIn,
  validateEmail,
} from '../context.ts';
import { AuthError, badRequest, forbidden, notFound, unprocessable } from '../errors.ts';
import {
  audit,
  confirmEmail,
  findUserByEmail,
  findUserById,
  insertEmailUser,
  type UserRow,
  userJson,
} from '../users.ts';

/**
 * Passwordless e-mail sign-in without a mailer. GoTrue e-mails a link (and a 6-digit code); here nothing is
 * sent. A test obtains the secret the way Supabase's own tooling does, through the admin API:
 *   const { data } = await admin.auth.admin.generateLink({ type: 'magiclink', email });
 *   await anon.auth.verifyOtp({ token_hash: data.properties.hashed_token, type: 'magiclink' });
 * (or `verifyOtp({ email, token: data.properties.email_otp, type: 'email' })`). POST /otp stores the same kind
 * of token and hands the would-be e-mail to AuthServerOptions.onEmail, if given.
 *
 * Storage follows GoTrue: the token hash is sha224(email + otp) in users.recovery_token (magic link, recovery)
 * or users.confirmation_token (signup), mirrored in auth.one_time_tokens.
 */
type LinkType = 'magiclink' | 'signup' | 'recovery';

const INVALID_OTP = () => forbidden('otp_expired', 'Token has expired or is invalid');

export function registerEmailLinkRoutes(app: FastifyInstance, ctx: AuthContext): void {
  app.post('/otp', async (request) => {
    const body = bodyOf(request);
    if (!body.email) throw unprocessable('phone_provider_disabled', 'Phone logins are disabled');
    const email = validateEmail(body.email);
    const createUser = body.create_user !== false;
    const redirectTo = redirectTarget(ctx, request, body);
    await inTransaction(ctx.pool, async (tx) => {
      let user = await findUserByEmail(tx, email, ctx.config.audience);
      let type: LinkType = 'magiclink';
      if (!user) {
        if (!createUser) throw unprocessable('otp_disabled', 'Signups not allowed for otp');
        user = await createPasswordlessUser(tx, ctx, email, objectField(body, 'data') ?? {});
        type = 'signup';
      } else if (!user.email_confirmed_at) {
        type = 'signup';
      }
      const link = await issueEmailToken(tx, ctx, user, type, redirectTo);
      ctx.config.onEmail?.({ to: email, type, ...link });
    });
    return {};
  });

  app.post('/admin/generate_link', async (request) => {
    await requireAdmin(ctx, request);
    const body = bodyOf(request);
    const requested = body.type;
    if (requested !== 'magiclink' && requested !== 'signup' && requested !== 'recovery') {
      throw badRequest('validation_failed', 'Invalid email action link type requested');
    }
    const email = validateEmail(body.email);
    const redirectTo = redirectTarget(ctx, request, body);
    const password = typeof body.password === 'string' && body.password !== '' ? body.password : undefined;
    if (password !== undefined) checkPasswordStrength(ctx, password);
    const passwordHash = password === undefined ? null : await hashPassword(ctx, password);

    return inTransaction(ctx.pool, async (tx) => {
      let user = await findUserByEmail(tx, email, ctx.config.audience);
      let type: LinkType = requested;
      if (requested === 'recovery' && !user)
        throw notFound('user_not_found', 'User with this email not found');
      if (requested === 'signup' && user?.email_confirmed_at) {
        throw unprocessable('email_exists', 'A user with this email address has already been registered');
      }
      if (!user) {
        // As GoTrue: a magic link for an unknown address signs the address up.
        user = await createPasswordlessUser(tx, ctx, email, objectField(body, 'data') ?? {}, passwordHash);
        type = 'signup';
      }
      const link = await issueEmailToken(tx, ctx, user, type, redirectTo);
      const fresh = (await findUserById(tx, user.id))!;
      const identities = await tx.query('select * from auth.identities where user_id = $1', [user.id]);
      return {
        ...userJson(fresh, identities.rows),
        action_link: link.actionLink,
        email_otp: link.otp,
        hashed_token: link.tokenHash,
        verification_type: type,
        redirect_to: redirectTo,
      };
    });
  });

  // POST /verify — { type, token_hash } or { type, email, token }: answers with a session.
  app.post('/verify', async (request) => {
    const body = bodyOf(request);
    const type = String(body.type ?? '');
    return inTransaction(ctx.pool, async (tx) => {
      const user = await consumeEmailToken(tx, ctx, type, body);
      await audit(tx, 'login', user, request.ip, { provider: 'email', via: type });
      return signIn(ctx, tx, user, type === 'recovery' ? 'recovery' : 'otp', request);
    });
  });

  // GET /verify?token=<hash>&type=...&redirect_to=... — the link in the e-mail: 303 to redirect_to with the
  // session in the URL fragment (implicit flow), or the error there.
  app.get('/verify', async (request, reply) => {
    const query = request.query as Record<string, string | undefined>;
    const redirectTo = query.redirect_to || ctx.config.siteUrl;
    const type = query.type ?? '';
    try {
      const session = await inTransaction(ctx.pool, async (tx) => {
        const user = await consumeEmailToken(tx, ctx, type, { token_hash: query.token });
        await audit(tx, 'login', user, request.ip, { provider: 'email', via: type });
        return signIn(ctx, tx, user, type === 'recovery' ? 'recovery' : 'otp', request);
      });
      const fragment = new URLSearchParams({
        access_token: String(session.access_token),
        expires_at: String(session.expires_at),
        expires_in: String(session.expires_in),
        refresh_token: String(session.refresh_token),
        token_type: 'bearer',
        type,
      });
      return reply.redirect(`${redirectTo}#${fragment.toString()}`, 303);
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      const fragment = new URLSearchParams({
        error: 'access_denied',
        error_code: error.code,
        error_description: error.message,
      });
      return reply.redirect(`${redirectTo}#${fragment.toString()}`, 303);
    }
  });
}

function redirectTarget(ctx: AuthContext, request: FastifyRequest, body: Record<string, unknown>): string {
  const fromQuery = (request.query as Record<string, string | undefined>).redirect_to;
  const fromBody = typeof body.redirect_to === 'string' ? body.redirect_to : undefined;
  const options = objectField(body, 'options');
  const fromOptions = typeof options?.redirect_to === 'string' ? options.redirect_to : undefined;
  return fromQuery || fromBody || fromOptions || ctx.config.siteUrl;
}

async function createPasswordlessUser(
  tx: pg.PoolClient,
  ctx: AuthContext,
  email: string,
  data: Record<string, unknown>,
  passwordHash: string | null = null,
): Promise<UserRow> {
  return insertEmailUser(tx, {
    email,
    aud: ctx.config.audience,
    role: ctx.config.defaultRole,
    passwordHash,
    userMetaData: data,
    appMetaData: { provider: 'email', providers: ['email'] },
  });
}

export function emailTokenHash(email: string, otp: string): string {
  return createHash('sha224')
    .update(email + otp)
    .digest('hex');
}

async function issueEmailToken(
  tx: pg.PoolClient,
  ctx: AuthContext,
  user: UserRow,
  type: LinkType,
  redirectTo: string,
): Promise<{ otp: string; tokenHash: string; actionLink: string }> {
  const email = user.email ?? '';
  const otp = String(randomInt(0, 1_000_000)).padStart(6, '0');
  const tokenHash = emailTokenHash(email, otp);
  const confirmation = type === 'signup';
  await tx.query(
    confirmation
      ? 'update auth.users set confirmation_token = $2, confirmation_sent_at = now() where id = $1'
      : 'update auth.users set recovery_token = $2, recovery_sent_at = now() where id = $1',
    [user.id, tokenHash],
  );
  await tx.query(
    `insert into auth.one_time_tokens (id, user_id, token_type, token_hash, relates_to)
     values ($1, $2, $3, $4, $5)
     on conflict (user_id, token_type) do update
       set token_hash = excluded.token_hash, relates_to = excluded.relates_to, updated_at = now()`,
    [randomUUID(), user.id, confirmation ? 'confirmation_token' : 'recovery_token', tokenHash, email],
  );
  const params = new URLSearchParams({ token: tokenHash, type, redirect_to: redirectTo });
  return { otp, tokenHash, actionLink: `${ctx.config.externalUrl}/verify?${params.toString()}` };
}

/** Finds the user a valid e-mail token belongs to, clears the token and confirms the address. */
async function consumeEmailToken(
  tx: pg.PoolClient,
  ctx: AuthContext,
  type: string,
  body: Record<string, unknown>,
): Promise<UserRow> {
  const columns =
    type === 'magiclink' || type === 'recovery'
      ? ['recovery_token']
      : type === 'signup' || type === 'invite'
        ? ['confirmation_token']
        : type === 'email'
          ? ['confirmation_token', 'recovery_token']
          : undefined;
  if (!columns) throw badRequest('validation_failed', 'Verify requires a verification type');

  let hash: string;
  let user: UserRow | undefined;
  if (typeof body.token_hash === 'string' && body.token_hash !== '') {
    hash = body.token_hash;
  } else if (typeof body.email === 'string' && typeof body.token === 'string' && body.token !== '') {
    user = await findUserByEmail(tx, body.email, ctx.config.audience);
    if (!user) throw INVALID_OTP();
    hash = emailTokenHash(user.email ?? '', body.token);
  } else {
    throw badRequest('validation_failed', 'Verify requires either a token or a token hash');
  }

  for (const column of columns) {
    const { rows } = await tx.query<UserRow>(
      `select * from auth.users where ${column} = $1 ${user ? 'and id = $2' : ''} for update`,
      user ? [hash, user.id] : [hash],
    );
    const found = rows[0];
    if (!found) continue;
    const sentAt = column === 'recovery_token' ? found.recovery_sent_at : found.confirmation_sent_at;
    if (!sentAt || sentAt.getTime() + ctx.config.otpExpirySeconds * 1000 < Date.now()) throw INVALID_OTP();
    await tx.query(`update auth.users set ${column} = '' where id = $1`, [found.id]);
    await tx.query('delete from auth.one_time_tokens where user_id = $1 and token_hash = $2', [
      found.id,
      hash,
    ]);
    await confirmEmail(tx, found.id);
    return (await findUserById(tx, found.id))!;
  }
  throw INVALID_OTP();
}
