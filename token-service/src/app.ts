import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import { createLogger, type Logger } from '@voice/core';
import type { TokenServiceConfig } from '@voice/core/config/token-service';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import helmet from 'helmet';
import type { JWTVerifyGetKey } from 'jose';
import { type AccessTokenVerifier, createAccessTokenVerifier } from './auth.ts';
import { createServiceDatabase, type Database } from './database.ts';
import { createDispatchWatchdog } from './dispatch-watchdog.ts';
import { ApiError, sendApiError } from './errors.ts';
import { createKillSwitch } from './kill-switch.ts';
import { createLivekitRooms, type LivekitRooms } from './livekit-rooms.ts';
import { createMetrics, type TokenServiceMetrics } from './metrics.ts';
import { createPostgresDatabase } from './postgres-database.ts';
import { healthRoutes } from './routes/health-routes.ts';
import { tokenRoute } from './routes/token-route.ts';
import { webhookRoute } from './routes/webhook-route.ts';
import { createWebhookHandler } from './webhook.ts';

/** Collaborators a test or an embedding process may supply; everything else is built from the config. */
export interface TokenServiceDeps {
  logger?: Logger;
  db?: Database;
  /** Replaces the remote JWKS (e.g. a local key set). */
  jwks?: JWTVerifyGetKey;
  verifier?: AccessTokenVerifier;
  rooms?: LivekitRooms;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: TokenServiceMetrics;
  }
}

/** Body content types we read; both are kept as the raw string (the webhook signature covers the exact bytes). */
const BODY_TYPES = ['application/json', 'application/webhook+json'];

/**
 * The token service: this file builds the collaborators and composes the app from plugins (routes/: the token
 * endpoint, LiveKit webhooks, health and metrics); app-wide policy (timeouts, body parsing, errors, security
 * headers, CORS) is set here once. The dispatch watchdog runs while the app listens.
 */
export async function buildTokenService(
  config: TokenServiceConfig,
  deps: TokenServiceDeps = {},
): Promise<FastifyInstance> {
  const logger =
    deps.logger ??
    createLogger({
      name: 'token-service',
      level: config.log.level,
      includeSensitive: config.log.includeSensitive,
    });
  // Closed with the app (the direct path holds a connection pool).
  let closeDb: (() => Promise<void>) | undefined;
  let db: Database;
  if (deps.db) {
    db = deps.db;
  } else if (config.database) {
    const direct = createPostgresDatabase({
      url: config.database.url,
      poolSize: config.database.poolSize,
      timeoutMs: config.supabase.dbTimeoutMs,
      logger,
    });
    db = direct;
    closeDb = direct.close;
  } else {
    db = createServiceDatabase(
      config.supabase.url,
      config.supabase.serviceRoleKey,
      config.supabase.dbTimeoutMs,
    );
  }
  const verifier =
    deps.verifier ??
    createAccessTokenVerifier({
      jwtSecret: config.auth.jwtSecret,
      jwksUrl: config.auth.jwksUrl,
      issuer: config.auth.issuer,
      clockToleranceSeconds: config.auth.clockToleranceSeconds,
      jwks: deps.jwks,
    });
  const metrics = createMetrics();
  const rooms =
    deps.rooms ??
    createLivekitRooms({
      apiUrl: config.livekit.apiUrl,
      apiKey: config.livekit.apiKey,
      apiSecret: config.livekit.apiSecret,
    });
  const killSwitch = createKillSwitch({ db, cacheMs: config.flagsCacheMs, logger });
  const webhooks = createWebhookHandler({
    apiKey: config.livekit.apiKey,
    apiSecret: config.livekit.apiSecret,
    db,
    rooms,
    agentName: config.agentName,
    dispatch: config.dispatch,
    logger,
  });
  const watchdog = createDispatchWatchdog({
    db,
    rooms,
    agentName: config.agentName,
    pollMs: config.dispatch.pollMs,
    logger,
    onOutcome: (outcome) => metrics.watchdog.inc({ outcome }),
  });

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One log line per token request is written by the handler (with outcome); per-request access logs would
    // double the logging cost under load.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    // A client that stalls or trickles its request (slowloris) is cut off with a 408. Node checks its timeouts only
    // every `connectionsCheckingInterval` (30 s by default) and the headers timeout defaults to 60 s, so a stalled
    // body was held 60-90 s whatever requestTimeout said: both are set here.
    requestTimeout: config.requestTimeoutMs,
    http: {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: config.requestTimeoutMs,
      connectionsCheckingInterval: 1000,
    },
    return503OnClosing: true,
    // Request ids: ours, never a client-supplied header.
    requestIdHeader: false,
    genReqId: () => randomUUID(),
  });
  // Connections beyond the cap are closed as they arrive, before they cost anything.
  app.server.maxConnections = config.maxConnections;
  app.decorate('metrics', metrics);
  if (closeDb) app.addHook('onClose', closeDb);
  app.addHook('onListen', async () => watchdog.start());
  app.addHook('onClose', async () => watchdog.stop());

  // Keep bodies as raw strings: the webhook must verify the exact bytes; the token route parses JSON itself so
  // invalid JSON becomes our 400, not a framework error. Bytes that are not UTF-8 are refused here (JSON is UTF-8;
  // decoding them leniently would turn them into U+FFFD and let a mangled body through).
  app.removeAllContentTypeParsers();
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  app.addContentTypeParser(BODY_TYPES, { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, utf8.decode(body as Buffer));
    } catch {
      done(new ApiError(400, 'BAD_REQUEST', 'The request body is not valid UTF-8.'), undefined);
    }
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (error instanceof ApiError) return sendApiError(reply, error);
    const status = error.statusCode ?? 500;
    if (status === 413) {
      return sendApiError(
        reply,
        new ApiError(
          413,
          'PAYLOAD_TOO_LARGE',
          `The request body is larger than ${config.bodyLimitBytes} bytes.`,
        ),
      );
    }
    if (status === 415) {
      return sendApiError(
        reply,
        new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json.'),
      );
    }
    if (status >= 400 && status < 500) {
      return sendApiError(reply, new ApiError(400, 'BAD_REQUEST', 'The request could not be read.'));
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendApiError(reply, new ApiError(500, 'INTERNAL', 'Something went wrong on our side. Try again.'));
  });
  app.setNotFoundHandler((_request, reply) =>
    sendApiError(reply, new ApiError(404, 'NOT_FOUND', 'No such endpoint.')),
  );

  // Helmet's security headers, its middleware built ONCE: @fastify/helmet rebuilds it (re-parsing the CSP) on every
  // request, which profiled at ~4 % of the service's CPU per token.
  const securityHeaders = helmet({
    // An API: no HTML, but browsers on the configured origins must be able to read the replies.
    crossOriginResourcePolicy: { policy: 'cross-origin' },
  });
  app.addHook('onRequest', (request, reply, done) => {
    securityHeaders(request.raw, reply.raw, (error?: unknown) => done(error as Error | undefined));
  });
  await app.register(cors, {
    origin: config.corsOrigins.length > 0 ? config.corsOrigins : false,
    methods: ['POST', 'GET', 'OPTIONS'],
    allowedHeaders: ['authorization', 'content-type'],
    exposedHeaders: ['retry-after'],
    maxAge: 600,
  });

  await app.register(tokenRoute, { config, db, verifier, killSwitch, metrics });
  await app.register(webhookRoute, { config, webhooks, metrics });
  await app.register(healthRoutes, { config, db, metrics });

  return app;
}
