import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';

/**
 * The JWT secret `npm start` uses unless DEVSTACK_JWT_SECRET is set: fixed, so keys printed once keep working
 * across restarts of a local stack with a persistent data dir. Public on purpose — dev only, loopback only.
 * Test stacks use a random secret per run instead (`randomJwtSecret`).
 */
export const DEV_JWT_SECRET = 'devstack-local-jwt-secret-not-for-production-use';

export function randomJwtSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Supabase-style API key: an HS256 JWT whose `role` claim PostgREST switches to (`anon` or `service_role`),
 * signed with the project's JWT secret, valid for ten years like the keys Supabase issues.
 */
export async function signApiKey(jwtSecret: string, role: 'anon' | 'service_role'): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return await new SignJWT({ role, iss: 'supabase-devstack', ref: 'devstack' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + 10 * 365 * 24 * 3600)
    .sign(new TextEncoder().encode(jwtSecret));
}
