import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import { createLogger, type Logger, type TokenResponse } from '@voice/core';
import type { TokenServiceConfig } from '@voice/core/config/token-service';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import helmet from 'helmet';
import type { JWTVerifyGetKey } from 'jose';
import {
  AccessTokenError,
  type AccessTokenVerifier,
  bearerToken,
  createAccessTokenVerifier,
  KeySourceUnavailableError,
} from './auth.ts';
import { createServiceDatabase, type Database } from './database.ts';
import { ApiError, DatabaseUnavailableError, sendApiError, unauthenticated, unavailable } from './errors.ts';
import { createKillSwitch, type KillSwitch } from './kill-switch.ts';
import { claimVoiceSession, voiceDisabled } from './limits.ts';
import { mintParticipantToken } from './livekit-token.ts';
import { createMetrics, type TokenServiceMetrics } from './metrics.ts';
import { createPostgresDatabase } from './postgres-database.ts';
import { parseTokenRequest } from './token-request.ts';
import { createWebhookHandler, WebhookAuthError } from './webhook.ts';

/** Collaborators a test or an embedding process may supply; everything else is built from the config. */
export interface TokenServiceDeps {
  logger?: Logger;
  db?: Database;
  /** Replaces the remote JWKS (e.g. a local key set). */
  jwks?: JWTVerifyGetKey;
  verifier?: AccessTokenVerifier;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: TokenServiceMetrics;
  }
}

/** Body content types we read; both are kept as the raw string (the webhook signature covers the exact bytes). */
const BODY_TYPES = ['application/json', 'application/webhook+json'];
const WEBHOOK_BODY_LIMIT_BYTES = 256 * 1024;

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
  const killSwitch: KillSwitch = createKillSwitch({ db, cacheMs: config.flagsCacheMs, logger });
  const webhooks = createWebhookHandler({
    apiKey: config.livekit.apiKey,
    apiSecret: config.livekit.apiSecret,
    db,
    logger,
  });
  const metrics = createMetrics();

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One log line per token request is written by the handler (with outcome); per-request access logs would
    // double the logging cost under load.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    // A client that trickles its request (slowloris) is cut off instead of holding a socket forever.
    requestTimeout: 10_000,
    return503OnClosing: true,
    // Request ids: ours, never a client-supplied header.
    requestIdHeader: false,
    genReqId: () => randomUUID(),
  });
  app.decorate('metrics', metrics);
  if (closeDb) app.addHook('onClose', closeDb);

  // Keep bodies as raw strings: the webhook must verify the exact bytes; the token route parses JSON itself so
  // invalid JSON becomes our 400, not a framework error.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(BODY_TYPES, { parseAs: 'string' }, (_request, body, done) => done(null, body));

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

  app.post('/v1/token', async (request, reply) => {
    const started = process.hrtime.bigint();
    let outcome = 'issued';
    let userId: string | undefined;
    try {
      const token = bearerToken(request.headers.authorization);
      if (!token)
        throw unauthenticated('Send your Supabase access token as "Authorization: Bearer <token>".');
      try {
        userId = (await verifier.verify(token)).userId;
      } catch (error) {
        if (error instanceof KeySourceUnavailableError) {
          request.log.warn({ reason: error.message }, 'token request: access token keys unavailable');
          throw unavailable(config.unavailableRetryAfterSeconds);
        }
        request.log.info(
          { reason: error instanceof AccessTokenError ? error.reason : 'unknown' },
          'token request: access token rejected',
        );
        throw unauthenticated();
      }

      const body = parseTokenRequest(request.body, config.agentName);

      if (!config.voiceEnabled || (await killSwitch.isOffEverywhere())) throw voiceDisabled();

      const sessionId = randomUUID();
      const roomName = `voice-${sessionId}`;
      const grant = await claimVoiceSession(db, {
        userId,
        sessionId,
        roomName,
        conversationId: body.conversation_id,
        limits: config.limits,
        leaseSeconds: config.sessionLeaseSeconds,
      });

      let minted: Awaited<ReturnType<typeof mintParticipantToken>>;
      try {
        minted = await mintParticipantToken(
          {
            apiKey: config.livekit.apiKey,
            apiSecret: config.livekit.apiSecret,
            agentName: config.agentName,
            ttlSeconds: config.tokenTtlSeconds,
            room: config.room,
          },
          {
            userId,
            roomName: grant.session.room_name,
            participantName: body.participant_name,
            dispatch: {
              v: 1,
              session_id: grant.session.id,
              user_id: userId,
              conversation_id: grant.session.conversation_id,
              max_call_seconds: grant.session.max_call_seconds,
            },
          },
        );
      } catch (error) {
        // Give the slot back at once rather than after the lease; the caller never got a token.
        await db
          .rpc('end_voice_session', { p_session_id: grant.session.id, p_reason: 'error' })
          .catch(() => undefined);
        throw error;
      }

      const response: TokenResponse = {
        server_url: config.livekit.url,
        participant_token: minted.token,
        session_id: grant.session.id,
        room_name: grant.session.room_name,
        conversation_id: grant.session.conversation_id,
        token_expires_at: minted.expiresAt.toISOString(),
        limits: {
          max_call_seconds: grant.session.max_call_seconds,
          concurrent_calls_max: grant.concurrentMax,
          concurrent_calls_in_use: grant.concurrentInUse,
          monthly_minutes_max: Math.floor(grant.monthlySecondsMax / 60),
          monthly_minutes_used: Math.round(grant.monthlySecondsUsed / 6) / 10,
        },
      };
      metrics.issued.inc();
      request.log.info({ userId, sessionId: grant.session.id }, 'token issued');
      return reply.code(201).header('cache-control', 'no-store').send(response);
    } catch (error) {
      const apiError = toApiError(error, request.log, config.unavailableRetryAfterSeconds);
      outcome = apiError.code;
      metrics.denied.inc({ code: apiError.code });
      if (apiError.status >= 500 || apiError.status === 429 || apiError.status === 403) {
        request.log.info({ userId, code: apiError.code }, 'token refused');
      }
      return sendApiError(reply, apiError);
    } finally {
      metrics.latency.observe({ outcome }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  });

  // LiveKit's events carry room and participant info (tracks, attributes), which can outgrow the small limit meant
  // for token requests; they are signed, so a larger limit here is safe.
  app.post(
    '/v1/livekit/webhook',
    { bodyLimit: WEBHOOK_BODY_LIMIT_BYTES },
    async (request, reply: FastifyReply) => {
      const raw = typeof request.body === 'string' ? request.body : '';
      const authorization = request.headers.authorization ?? headerValue(request.headers.authorize);
      try {
        const outcome = await webhooks.handle(raw, authorization);
        metrics.webhooks.inc({ event: outcome.event, result: outcome.action });
        if (outcome.action === 'ended') {
          request.log.info(
            { event: outcome.event, sessionId: outcome.sessionId, alreadyEnded: outcome.alreadyEnded },
            'webhook ended session',
          );
        }
        return reply.code(200).send({ ok: true });
      } catch (error) {
        if (error instanceof WebhookAuthError) {
          metrics.webhooks.inc({ event: 'unverified', result: 'rejected' });
          request.log.warn({ reason: error.reason }, 'webhook rejected');
          return sendApiError(reply, unauthenticated('Webhook signature missing or invalid.'));
        }
        // Database down: 503 so LiveKit retries; the session lease frees the slot even if every retry fails.
        metrics.webhooks.inc({ event: 'unknown', result: 'failed' });
        return sendApiError(reply, toApiError(error, request.log, config.unavailableRetryAfterSeconds));
      }
    },
  );

  app.get('/healthz', async (_request, reply) => reply.send({ status: 'ok' }));

  app.get('/readyz', async (request, reply) => {
    try {
      await db.rpc('voice_flags_snapshot', {});
      return reply.send({ status: 'ready' });
    } catch (error) {
      request.log.warn({ err: String(error) }, 'not ready: database unavailable');
      return sendApiError(reply, unavailable(config.unavailableRetryAfterSeconds));
    }
  });

  // With a metrics port configured, main.ts serves the registry there and the public port has no /metrics.
  if (config.metricsPort === undefined) {
    app.get('/metrics', async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    );
  }

  return app;
}

function toApiError(
  error: unknown,
  log: Logger | FastifyInstance['log'],
  retryAfterSeconds: number,
): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof DatabaseUnavailableError) {
    log.warn({ operation: error.operation, detail: error.detail }, 'database unavailable');
    return unavailable(retryAfterSeconds);
  }
  log.error({ err: error }, 'unexpected error');
  return new ApiError(500, 'INTERNAL', 'Something went wrong on our side. Try again.');
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
