import type { Logger } from '@voice/core';
import { type WebhookEvent, WebhookReceiver } from 'livekit-server-sdk';
import type { Database } from './database.ts';

/**
 * LiveKit webhooks → session lifecycle. LiveKit signs each webhook with a JWT (issuer = API key, HS256 with the
 * API secret) carrying the sha256 of the raw body, so the body must be verified exactly as received.
 *
 * - room_finished → end the room's session ("room_finished").
 * - participant_left of the caller (identity = the session's user id) → end it ("caller_left"). The agent leaving
 *   is ignored: the agent ends sessions itself with its own reason.
 * Ending is idempotent (end_voice_session: first reason wins), so repeated or out-of-order deliveries are harmless.
 */
export class WebhookAuthError extends Error {
  constructor(readonly reason: string) {
    super(`webhook rejected: ${reason}`);
    this.name = 'WebhookAuthError';
  }
}

export type WebhookOutcome =
  | { action: 'ended'; event: string; sessionId: string; alreadyEnded: boolean }
  | { action: 'ignored'; event: string; why: string };

export interface WebhookHandler {
  handle(rawBody: string, authorization: string | undefined): Promise<WebhookOutcome>;
}

export function createWebhookHandler(options: {
  apiKey: string;
  apiSecret: string;
  db: Database;
  logger: Logger;
}): WebhookHandler {
  const receiver = new WebhookReceiver(options.apiKey, options.apiSecret);

  async function verify(rawBody: string, authorization: string | undefined): Promise<WebhookEvent> {
    if (!authorization) throw new WebhookAuthError('unsigned');
    // LiveKit sends the bare JWT; tolerate a "Bearer " prefix from proxies or other senders.
    const jwt = authorization.replace(/^Bearer\s+/i, '');
    try {
      return await receiver.receive(rawBody, jwt);
    } catch (error) {
      // Bad signature, wrong issuer, expired, body hash mismatch (a signature replayed with another body),
      // or a body that is not a webhook event.
      throw new WebhookAuthError(error instanceof Error ? error.message : 'invalid');
    }
  }

  async function endSessionOfRoom(
    event: string,
    roomName: string,
    reason: string,
    onlyIfUser?: string,
  ): Promise<WebhookOutcome> {
    const session = await options.db.findSessionByRoom(roomName);
    if (!session) return { action: 'ignored', event, why: 'unknown room' };
    if (onlyIfUser !== undefined && session.user_id !== onlyIfUser) {
      return { action: 'ignored', event, why: 'not the caller' };
    }
    const result = await options.db.rpc<{ ended: boolean; already_ended: boolean }>('end_voice_session', {
      p_session_id: session.id,
      p_reason: reason,
    });
    return { action: 'ended', event, sessionId: session.id, alreadyEnded: result.already_ended };
  }

  return {
    async handle(rawBody, authorization) {
      const event = await verify(rawBody, authorization);
      const roomName = event.room?.name;
      switch (event.event) {
        case 'room_finished':
          if (!roomName) return { action: 'ignored', event: event.event, why: 'no room' };
          return endSessionOfRoom(event.event, roomName, 'room_finished');
        case 'participant_left': {
          const identity = event.participant?.identity;
          if (!roomName || !identity)
            return { action: 'ignored', event: event.event, why: 'no room/participant' };
          return endSessionOfRoom(event.event, roomName, 'caller_left', identity);
        }
        default:
          return { action: 'ignored', event: event.event || 'unknown', why: 'not handled' };
      }
    },
  };
}
