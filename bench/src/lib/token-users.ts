import type { StackInfo } from '@voice/devstack/stack-info';
import { createTestUser } from '@voice/devstack/testing/users';
import { decodeJwt, SignJWT } from 'jose';
import pg from 'pg';

/**
 * Studio users for the token benchmark, in the thousands, each of whom stays within the production limits.
 *
 * Why so many: a production user holds at most 3 calls at once (VOICE_MAX_CONCURRENT_SESSIONS) and asks for at
 * most 10 tokens a minute, so when a real grant runs the claim finds at most 2 open sessions and a handful of recent
 * issuances for that user. A bench that reuses a few dozen users with the limits raised piles up hundreds to
 * thousands of open sessions per user (a grant's session stays open for its 120 s lease: nobody joins), and the
 * claim's scans of them made Postgres's share per grant grow with the run's length. At ~1000+ grants/s and 3 grants
 * per user that needs thousands of users per level.
 *
 * Signing each one up through the auth server would cost a bcrypt hash each (minutes of CPU), so one user is signed
 * up for real (its access token is the template: same claims, same size) and the rest are inserted into auth.users
 * in one statement, as the auth server inserts them (the profile trigger fires), made Studio, and given access
 * tokens with the template's claims and their own `sub`, email and session id, signed with the stack's JWT secret:
 * the token service verifies them exactly as it verifies the auth server's tokens.
 */
export interface BenchUser {
  id: string;
  accessToken: string;
}

export async function createBenchUsers(stack: StackInfo, count: number): Promise<BenchUser[]> {
  const template = await createTestUser(stack, { tier: 'studio' });
  const claims = decodeJwt(template.accessToken);
  const client = new pg.Client({ connectionString: stack.databaseUrl });
  await client.connect();
  let users: { id: string; email: string }[];
  try {
    await client.query('begin');
    ({ rows: users } = await client.query<{ id: string; email: string }>(
      `insert into auth.users (
         instance_id, id, aud, role, email, encrypted_password, raw_app_meta_data, raw_user_meta_data,
         confirmation_token, recovery_token, email_change_token_new, email_change, email_confirmed_at,
         created_at, updated_at, is_anonymous
       )
       select '00000000-0000-0000-0000-000000000000', u.id, 'authenticated', 'authenticated', u.email, '',
         '{"provider": "email", "providers": ["email"]}'::jsonb,
         jsonb_build_object('sub', u.id, 'email', u.email, 'email_verified', true, 'phone_verified', false),
         '', '', '', '', now(), now(), now(), false
       from (
         select id, 'bench-' || id || '@example.com' as email
         from (select gen_random_uuid() as id from generate_series(1, $1)) g
       ) u
       returning id, email`,
      [count],
    ));
    await client.query(`update public.profiles set tier = 'studio' where id = any($1::uuid[])`, [
      users.map((u) => u.id),
    ]);
    await client.query('commit');
  } finally {
    await client.end();
  }
  const secret = new TextEncoder().encode(stack.jwtSecret);
  const userMetadata = (claims.user_metadata ?? {}) as Record<string, unknown>;
  return Promise.all(
    users.map(async ({ id, email }) => ({
      id,
      accessToken: await new SignJWT({
        ...claims,
        sub: id,
        email,
        user_metadata: { ...userMetadata, sub: id, email },
        session_id: crypto.randomUUID(),
      })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .sign(secret),
    })),
  );
}
