import type { Logger } from '@voice/core';
import type { TokenServiceConfig } from '@voice/core/config/token-service';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { sendApiError, toApiError, unauthenticated } from '../errors.ts';
import type { TokenServiceMetrics } from '../metrics.ts';
import { WebhookAuthError, type WebhookHandler } from '../webhook.ts';

export interface WebhookRouteOptions {
  config: TokenServiceConfig;
  webhooks: WebhookHandler;
  metrics: TokenServiceMetrics;
}

/**
 * LiveKit's events carry room and participant info (tracks, attributes), which can outgrow the small limit meant
 * for token requests; they are signed, so a larger limit here is safe.
 */
const WEBHOOK_BODY_LIMIT_BYTES = 256 * 1024;

/** POST /v1/livekit/webhook: signed LiveKit events → session lifecycle (webhook.ts). */
export const webhookRoute: FastifyPluginAsync<WebhookRouteOptions> = async (app, options) => {
  const { config, webhooks, metrics } = options;

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
        // Database or LiveKit API down: 5xx so LiveKit retries; the session lease frees the slot even if every
        // retry fails.
        metrics.webhooks.inc({ event: 'unknown', result: 'failed' });
        return sendApiError(
          reply,
          toApiError(error, request.log as Logger, config.unavailableRetryAfterSeconds),
        );
      }
    },
  );
};

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
