import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from '@voice/core';
import Fastify, { type FastifyInstance } from 'fastify';
import type { JWK } from 'jose';
import pg from 'pg';
import type { AuthConfig, AuthContext, OutgoingEmail } from './context.ts';
import { API_VERSION_HEADER, AuthError, errorBody, wantsModernErrors } from './errors.ts';
import { createKeyring, type PrivateSigningJwk } from './keys.ts';
import { registerAccountRoutes } from './routes/account.ts';
import { registerAdminRoutes } from './routes/admin.ts';
import { registerEmailLinkRoutes } from './routes/email-links.ts';
import { migrateAuthSchema } from './schema.ts';

export interface AuthServerOptions {
  /** Connection string for a role that owns schema `auth` (on Supabase: supabase_auth_admin). */
  databaseUrl: string;
  /** HS256 secret (32+ characters) shared with PostgREST; signs tokens unless `signingKey` is given. */
  jwtSecret: string;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** GOTRUE_SITE_URL: the app's URL, default redirect target of e-mail links. Defaults to the public URL. */
  siteUrl?: string;
  /**
   * The URL clients use for Supabase (the gateway, e.g. StackInfo.supabaseUrl): the auth API is
   * `<publicUrl>/auth/v1`. Defaults to this server's own URL (then there is no `/auth/v1` in front of it).
   */
  publicUrl?: string;
  /** `iss` claim. Default `<publicUrl>/auth/v1` (what Supabase puts there). */
  issuer?: string;
  jwtExpirySeconds?: number;
  /** GOTRUE_JWT_KEYS equivalent: an ES256 or RS256 private JWK. Access tokens are then signed with it. */
  signingKey?: PrivateSigningJwk;
  /** GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL, default 10 s as GoTrue. */
  refreshTokenReuseIntervalSeconds?: number;
  /** GOTRUE_PASSWORD_MIN_LENGTH, default 6. */
  passwordMinLength?: number;
  /** bcrypt cost; GoTrue uses 10 (bcrypt.DefaultCost). Lower only to speed up bulk user creation. */
  bcryptCost?: number;
  /** GOTRUE_MAILER_OTP_EXP, default 86400 s. */
  otpExpirySeconds?: number;
  /** Receives the e-mails GoTrue would send (there is no mailer). */
  onEmail?: (email: OutgoingEmail) => void;
  logger?: Logger;
}

export interface AuthServer {
  /** Base URL of the API (serves /signup, /token, ... at its root; put it behind the gateway's /auth/v1). */
  url: string;
  /** The published key set (empty with HS256 only). Same as GET /.well-known/jwks.json. */
  jwks: { keys: JWK[] };
  /** The `iss` of the tokens it signs. */
  issuer: string;
  stop(): Promise<void>;
}

const EXPOSED_HEADERS = 'X-Total-Count, Link, X-Supabase-Api-Version';
const ALLOWED_HEADERS =
  'Accept, Authorization, Content-Type, X-Client-IP, X-Client-Info, X-JWT-AUD, X-Use-Cookie, X-Supabase-Api-Version, apikey';

/**
 * A GoTrue-wire-compatible auth server for the local stack and tests (Supabase Auth itself cannot be built on
 * our machines). It owns the auth schema like GoTrue: created on start, idempotently.
 */
export async function startAuthServer(options: AuthServerOptions): Promise<AuthServer> {
  if (options.jwtSecret.length < 32) throw new Error('auth server: jwtSecret must be at least 32 characters');
  const log = options.logger ?? createLogger({ name: 'auth', level: 'warn' });
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: 8,
    application_name: 'devstack-auth',
  });
  // Idle clients see the database go away (failure tests stop Postgres): log it instead of crashing.
  pool.on('error', (error) => log.warn({ err: error.message }, 'auth database connection lost'));

  let app: FastifyInstance | undefined;
  try {
    await migrateAuthSchema(pool);
    const keys = await createKeyring(options.jwtSecret, options.signingKey);
    const config: AuthConfig = {
      issuer: '',
      externalUrl: '',
      siteUrl: '',
      jwtExpirySeconds: options.jwtExpirySeconds ?? 3600,
      audience: 'authenticated',
      defaultRole: 'authenticated',
      passwordMinLength: options.passwordMinLength ?? 6,
      bcryptCost: options.bcryptCost ?? 10,
      refreshTokenReuseIntervalSeconds: options.refreshTokenReuseIntervalSeconds ?? 10,
      otpExpirySeconds: options.otpExpirySeconds ?? 86_400,
      onEmail: options.onEmail,
    };
    const ctx: AuthContext = { pool, keys, config, log };
    app = buildApp(ctx);
    await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
    const { port } = app.server.address() as AddressInfo;
    const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
    // Known only once listening (port 0): the URL-derived settings.
    config.externalUrl = options.publicUrl ? `${options.publicUrl.replace(/\/$/, '')}/auth/v1` : url;
    config.issuer = options.issuer ?? (options.publicUrl ? config.externalUrl : `${url}/auth/v1`);
    config.siteUrl = options.siteUrl ?? options.publicUrl ?? url;
    log.info({ url, issuer: config.issuer, algorithm: keys.algorithm }, 'auth server listening');

    const running = app;
    let stopped: Promise<void> | undefined;
    return {
      url,
      jwks: keys.jwks,
      issuer: config.issuer,
      stop: () => {
        stopped ??= running.close().then(() => pool.end());
        return stopped;
      },
    };
  } catch (error) {
    await app?.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    throw error;
  }
}

function buildApp(ctx: AuthContext): FastifyInstance {
  const app = Fastify({
    logger: false,
    trustProxy: true,
    bodyLimit: 1024 * 1024,
    // GoTrue serves at its root and the gateway strips /auth/v1. Accepting the prefix too lets supabase-js talk
    // to this server directly (tests) and tolerates a gateway that forwards the full path.
    rewriteUrl: (request) => {
      const url = request.url ?? '/';
      if (!url.startsWith('/auth/v1')) return url;
      const rest = url.slice('/auth/v1'.length);
      return rest.startsWith('/') ? rest : `/${rest}`;
    },
  });

  // auth-js sends `Content-Type: application/json` with no body on some calls (signOut): treat that as {}.
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body).trim();
    if (text === '') return done(null, {});
    try {
      done(null, JSON.parse(text));
    } catch (error) {
      done(
        new AuthError(400, 'bad_json', `Could not parse request body as JSON: ${(error as Error).message}`),
        undefined,
      );
    }
  });
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(String(body))));
    },
  );

  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    reply.header('access-control-allow-origin', origin ?? '*');
    if (origin) reply.header('access-control-allow-credentials', 'true').header('vary', 'Origin');
    reply.header('access-control-expose-headers', EXPOSED_HEADERS);
    if (wantsModernErrors(request.headers[API_VERSION_HEADER])) {
      reply.header(API_VERSION_HEADER, String(request.headers[API_VERSION_HEADER]));
    }
    if (request.method === 'OPTIONS') {
      return reply
        .code(204)
        .header('access-control-allow-methods', 'GET, POST, PUT, DELETE')
        .header(
          'access-control-allow-headers',
          request.headers['access-control-request-headers'] ?? ALLOWED_HEADERS,
        )
        .send();
    }
  });

  app.setErrorHandler((error, request, reply) => {
    const modern = wantsModernErrors(request.headers[API_VERSION_HEADER]);
    if (error instanceof AuthError) {
      if (error.status >= 500) ctx.log.error({ err: error.message, url: request.url }, 'auth request failed');
      return reply.code(error.status).send(errorBody(error, modern));
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      // Fastify's own client errors (body too large, unsupported media type, ...).
      const message = error instanceof Error ? error.message : 'Bad request';
      return reply.code(status).send(errorBody(new AuthError(status, 'validation_failed', message), modern));
    }
    ctx.log.error({ err: (error as Error).message, url: request.url }, 'auth request failed');
    const unexpected = new AuthError(
      500,
      'unexpected_failure',
      'Unexpected failure, please check server logs for more information',
    );
    return reply.code(500).send(errorBody(unexpected, modern));
  });

  app.setNotFoundHandler((request, reply) => {
    const modern = wantsModernErrors(request.headers[API_VERSION_HEADER]);
    return reply.code(404).send(errorBody(new AuthError(404, 'not_found', 'Not Found'), modern));
  });

  app.get('/health', async () => ({
    version: 'devstack',
    name: 'GoTrue',
    description: 'GoTrue is a user registration and authentication API',
  }));

  app.get('/settings', async () => ({
    external: Object.fromEntries(
      [
        'anonymous_users',
        'apple',
        'azure',
        'bitbucket',
        'discord',
        'facebook',
        'figma',
        'fly',
        'github',
        'gitlab',
        'google',
        'keycloak',
        'kakao',
        'linkedin',
        'linkedin_oidc',
        'notion',
        'spotify',
        'slack',
        'slack_oidc',
        'workos',
        'twitch',
        'twitter',
        'zoom',
        'phone',
        'web3_solana',
        'web3_ethereum',
      ]
        .map((provider) => [provider, false] as [string, boolean])
        .concat([['email', true]]),
    ),
    disable_signup: false,
    mailer_autoconfirm: true,
    phone_autoconfirm: false,
    sms_provider: '',
    saml_enabled: false,
  }));

  app.get('/.well-known/jwks.json', async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=600');
    return ctx.keys.jwks;
  });

  registerAccountRoutes(app, ctx);
  registerAdminRoutes(app, ctx);
  registerEmailLinkRoutes(app, ctx);
  return app;
}
