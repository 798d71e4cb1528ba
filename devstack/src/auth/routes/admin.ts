import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  type AuthContext,
  bodyOf,
  checkPasswordStrength,
  hashPassword,
  inTransaction,
  objectField,
  requireAdmin,
  validateEmail,
} from '../context.ts';
import { badRequest, notFound, unprocessable } from '../errors.ts';
import {
  audit,
  confirmEmail,
  findIdentities,
  findUserByEmail,
  findUserById,
  insertEmailUser,
  isUuid,
  mergeMetadata,
  type UserRow,
  userJson,
  userWithIdentities,
} from '../users.ts';

/**
 * The admin API (supabase.auth.admin.*), service_role only: create (with email_confirm), list, get, update,
 * delete. Deleting a user cascades to its sessions and to every app row that references auth.users on delete
 * cascade, exactly as on Supabase.
 */
export function registerAdminRoutes(app: FastifyInstance, ctx: AuthContext): void {
  app.register(async (admin) => {
    admin.addHook('onRequest', async (request) => requireAdmin(ctx, request));

    admin.post('/admin/users', async (request) => {
      const body = bodyOf(request);
      if (!body.email && !body.phone) {
        throw badRequest('validation_failed', 'Cannot create a user without either an email or phone');
      }
      if (!body.email) throw unprocessable('phone_provider_disabled', 'Phone signups are disabled');
      const email = validateEmail(body.email);
      const password = typeof body.password === 'string' && body.password !== '' ? body.password : undefined;
      if (password !== undefined) checkPasswordStrength(ctx, password);
      const passwordHash = password === undefined ? null : await hashPassword(ctx, password);
      const id = typeof body.id === 'string' && body.id !== '' ? body.id : undefined;
      if (id !== undefined && !isUuid(id)) throw badRequest('validation_failed', 'Invalid user id');

      return inTransaction(ctx.pool, async (tx) => {
        if (await findUserByEmail(tx, email, audienceOf(ctx, body))) {
          throw unprocessable('email_exists', 'A user with this email address has already been registered');
        }
        const user = await insertEmailUser(tx, {
          ...(id ? { id } : {}),
          email,
          aud: audienceOf(ctx, body),
          role: typeof body.role === 'string' && body.role !== '' ? body.role : ctx.config.defaultRole,
          passwordHash,
          userMetaData: objectField(body, 'user_metadata') ?? objectField(body, 'data') ?? {},
          appMetaData: {
            ...(objectField(body, 'app_metadata') ?? {}),
            provider: 'email',
            providers: ['email'],
          },
        });
        if (body.email_confirm === true) await confirmEmail(tx, user.id);
        await audit(tx, 'user_signedup', user, request.ip, { provider: 'email', via: 'admin' });
        return userWithIdentities(tx, (await findUserById(tx, user.id))!);
      });
    });

    // GET /admin/users?page=1&per_page=50 — { users, aud } with X-Total-Count and Link (auth-js reads both).
    admin.get('/admin/users', async (request, reply) => {
      const query = request.query as Record<string, string | undefined>;
      const page = Math.max(1, Number.parseInt(query.page ?? '1', 10) || 1);
      const perPage = Math.min(1000, Math.max(1, Number.parseInt(query.per_page ?? '50', 10) || 50));
      const filter = query.filter ? `%${query.filter}%` : '%';
      const [{ rows: users }, { rows: counts }] = await Promise.all([
        ctx.pool.query<UserRow>(
          `select * from auth.users where aud = $1 and coalesce(email, '') ilike $2
           order by created_at desc, id limit $3 offset $4`,
          [ctx.config.audience, filter, perPage, (page - 1) * perPage],
        ),
        ctx.pool.query<{ total: string }>(
          `select count(*) as total from auth.users where aud = $1 and coalesce(email, '') ilike $2`,
          [ctx.config.audience, filter],
        ),
      ]);
      const total = Number(counts[0]?.total ?? 0);
      const lastPage = Math.max(1, Math.ceil(total / perPage));
      const links: string[] = [];
      if (page < lastPage) links.push(`</admin/users?page=${page + 1}&per_page=${perPage}>; rel="next"`);
      links.push(`</admin/users?page=${lastPage}&per_page=${perPage}>; rel="last"`);
      reply.header('x-total-count', String(total)).header('link', links.join(', '));
      const withIdentities = await Promise.all(
        users.map(async (user) => userJson(user, await findIdentities(ctx.pool, user.id))),
      );
      return { users: withIdentities, aud: ctx.config.audience };
    });

    admin.get('/admin/users/:id', async (request) =>
      userWithIdentities(ctx.pool, await loadUser(ctx, request)),
    );

    admin.put('/admin/users/:id', async (request) => {
      const target = await loadUser(ctx, request);
      const body = bodyOf(request);
      const password = typeof body.password === 'string' && body.password !== '' ? body.password : undefined;
      if (password !== undefined) checkPasswordStrength(ctx, password);
      const passwordHash = password === undefined ? undefined : await hashPassword(ctx, password);
      const email =
        typeof body.email === 'string' && body.email !== '' ? validateEmail(body.email) : undefined;

      return inTransaction(ctx.pool, async (tx) => {
        const user = (await findUserById(tx, target.id, true))!;
        const userMetadata = objectField(body, 'user_metadata');
        const appMetadata = objectField(body, 'app_metadata');
        if (userMetadata) {
          await tx.query('update auth.users set raw_user_meta_data = $2, updated_at = now() where id = $1', [
            user.id,
            mergeMetadata(user.raw_user_meta_data, userMetadata),
          ]);
        }
        if (appMetadata) {
          await tx.query('update auth.users set raw_app_meta_data = $2, updated_at = now() where id = $1', [
            user.id,
            mergeMetadata(user.raw_app_meta_data, appMetadata),
          ]);
        }
        if (typeof body.role === 'string' && body.role !== '') {
          await tx.query('update auth.users set role = $2, updated_at = now() where id = $1', [
            user.id,
            body.role,
          ]);
        }
        if (passwordHash) {
          await tx.query('update auth.users set encrypted_password = $2, updated_at = now() where id = $1', [
            user.id,
            passwordHash,
          ]);
        }
        if (email && email !== user.email) {
          if (await findUserByEmail(tx, email, user.aud ?? ctx.config.audience)) {
            throw unprocessable('email_exists', 'A user with this email address has already been registered');
          }
          await tx.query('update auth.users set email = $2, updated_at = now() where id = $1', [
            user.id,
            email,
          ]);
          await tx.query(
            `update auth.identities set identity_data = identity_data || jsonb_build_object('email', $2::text)
             where user_id = $1 and provider = 'email'`,
            [user.id, email],
          );
        }
        if (body.email_confirm === true) await confirmEmail(tx, user.id);
        if (typeof body.ban_duration === 'string' && body.ban_duration !== '') {
          await tx.query('update auth.users set banned_until = $2, updated_at = now() where id = $1', [
            user.id,
            banUntil(body.ban_duration),
          ]);
        }
        await audit(tx, 'user_modified', user, request.ip, { via: 'admin' });
        return userWithIdentities(tx, (await findUserById(tx, user.id))!);
      });
    });

    admin.delete('/admin/users/:id', async (request) => {
      const user = await loadUser(ctx, request);
      await inTransaction(ctx.pool, async (tx) => {
        await audit(tx, 'user_deleted', user, request.ip, { via: 'admin' });
        await tx.query('delete from auth.users where id = $1', [user.id]);
      });
      return {};
    });
  });
}

function audienceOf(ctx: AuthContext, body: Record<string, unknown>): string {
  return typeof body.aud === 'string' && body.aud !== '' ? body.aud : ctx.config.audience;
}

async function loadUser(ctx: AuthContext, request: FastifyRequest): Promise<UserRow> {
  const { id } = request.params as { id: string };
  if (!isUuid(id)) throw notFound('user_not_found', 'User not found');
  const user = await findUserById(ctx.pool, id);
  if (!user) throw notFound('user_not_found', 'User not found');
  return user;
}

/** GoTrue's ban_duration: a Go duration ("24h", "90m", "1h30m") or "none" to lift the ban. */
function banUntil(duration: string): Date | null {
  if (duration === 'none') return null;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...duration.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== duration) {
    throw badRequest('validation_failed', 'invalid format for ban duration');
  }
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0);
  return new Date(Date.now() + ms);
}
