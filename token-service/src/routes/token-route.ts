import { randomUUID } from 'node:crypto';
import type { Logger, TokenResponse } from '@voice/core';
import type { TokenServiceConfig } from '@voice/core/config/token-service';
import type { FastifyPluginAsync } from 'fastify';
import {
  AccessTokenError,
  type AccessTokenVerifier,
  bearerToken,
  KeySourceUnavailableError,
} from '../auth.ts';
import type { Database } from '../database.ts';
import { sendApiError, toApiError, unauthenticated, unavailable } from '../errors.ts';
import type { KillSwitch } from '../kill-switch.ts';
import { claimVoiceSession, voiceDisabled } from '../limits.ts';
import { mintParticipantToken } from '../livekit-token.ts';
import type { TokenServiceMetrics } from '../metrics.ts';
import { parseTokenRequest } from '../token-request.ts';

export interface TokenRouteOptions {
  config: TokenServiceConfig;
  db: Database;
  verifier: AccessTokenVerifier;
  killSwitch: KillSwitch;
  metrics: TokenServiceMetrics;
}

/**
 * POST /v1/token: who is asking (Supabase access token) → what they pay for and use (claim_voice_session, one
 * atomic decision in Postgres) → a LiveKit token for a fresh room with the agent dispatched into it.
 */
export const tokenRoute: FastifyPluginAsync<TokenRouteOptions> = async (app, options) => {
  const { config, db, verifier, killSwitch, metrics } = options;

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
        agent_join_timeout_seconds: config.dispatch.joinTimeoutSeconds,
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
      const apiError = toApiError(error, request.log as Logger, config.unavailableRetryAfterSeconds);
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
};
