import { DisconnectReason } from '@livekit/protocol';
import type { Logger } from '@voice/core';
import { type WebhookEvent, WebhookReceiver } from 'livekit-server-sdk';
import type { Database, SessionByRoom } from './database.ts';
import type { LivekitRooms } from './livekit-rooms.ts';

/**
 * LiveKit webhooks → session lifecycle. LiveKit signs each webhook with a JWT (issuer = API key, HS256 with the
 * API secret) carrying the sha256 of the raw body, so the body must be verified exactly as received.
 *
 * Our rooms have one caller (identity = the session's user id) and the agent:
 * - participant_joined of the caller → the dispatch watchdog starts watching for the agent (dispatch-watchdog.ts).
 *   If the session is already over (the caller rejoined with a token that is still valid after hanging up, which
 *   re-creates the room and its agent dispatch), the room is closed at once; the agent worker refuses the job for
 *   the ended session before it connects or calls any provider (agent/src/job-admission.ts).
 * - room_started of a room whose session is over → closed the same way.
 * - participant_left of the caller → the session ends ("caller_left"), unless the caller was only replaced by a
 *   newer connection of the same identity (a client's full reconnect: DUPLICATE_IDENTITY) or moved to another
 *   node (MIGRATION). The agent leaving is ignored: the agent ends sessions itself with its own reason.
 * - participant_connection_aborted of the caller (signalled, but media never connected) → ends it at once
 *   ("connection_aborted") instead of ~20 s later at room_finished.
 * - room_finished → ends the room's session ("room_finished").
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
  | { action: 'watching'; event: string; sessionId: string }
  | { action: 'closed'; event: string; sessionId: string }
  | { action: 'ignored'; event: string; why: string };

export interface WebhookHandler {
  handle(rawBody: string, authorization: string | undefined): Promise<WebhookOutcome>;
}

/** A caller who left this way is still (or again) in the room under a newer connection. */
const NOT_REALLY_GONE: ReadonlySet<DisconnectReason> = new Set([
  DisconnectReason.DUPLICATE_IDENTITY,
  DisconnectReason.MIGRATION,
]);

export function createWebhookHandler(options: {
  apiKey: string;
  apiSecret: string;
  db: Database;
  rooms: LivekitRooms;
  agentName: string;
  dispatch: { firstCheckSeconds: number; joinTimeoutSeconds: number };
  logger: Logger;
}): WebhookHandler {
  const receiver = new WebhookReceiver(options.apiKey, options.apiSecret);
  const { db, rooms } = options;

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

  async function end(event: string, session: SessionByRoom, reason: string): Promise<WebhookOutcome> {
    const result = await db.rpc<{ ended: boolean; already_ended: boolean }>('end_voice_session', {
      p_session_id: session.id,
      p_reason: reason,
    });
    return { action: 'ended', event, sessionId: session.id, alreadyEnded: result.already_ended };
  }

  async function closeEndedRoom(
    event: string,
    session: SessionByRoom,
    room: string,
  ): Promise<WebhookOutcome> {
    await rooms.close(room, session.end_reason ?? 'ended');
    options.logger.info({ sessionId: session.id, event }, 'room of an ended session closed');
    return { action: 'closed', event, sessionId: session.id };
  }

  async function callerJoined(event: string, session: SessionByRoom, room: string): Promise<WebhookOutcome> {
    if (session.status === 'ended') return closeEndedRoom(event, session, room);
    if (session.status !== 'pending') return { action: 'ignored', event, why: 'session already active' };
    const watch = await db.rpc<{ watching: boolean; status: string | null }>('watch_voice_session_dispatch', {
      p_session_id: session.id,
      p_agent_name: options.agentName,
      p_first_check_seconds: options.dispatch.firstCheckSeconds,
      p_join_timeout_seconds: options.dispatch.joinTimeoutSeconds,
    });
    if (watch.status === 'ended') {
      // Its lease had run out: the call this token was for is over.
      return closeEndedRoom(event, { ...session, end_reason: 'lease_expired' }, room);
    }
    return watch.watching
      ? { action: 'watching', event, sessionId: session.id }
      : { action: 'ignored', event, why: 'already watched' };
  }

  return {
    async handle(rawBody, authorization) {
      const event = await verify(rawBody, authorization);
      const name = event.event || 'unknown';
      const room = event.room?.name;
      const participant = event.participant;
      const handled = ['room_started', 'room_finished', 'participant_joined', 'participant_left'];
      if (!handled.includes(name) && name !== 'participant_connection_aborted') {
        return { action: 'ignored', event: name, why: 'not handled' };
      }
      if (!room) return { action: 'ignored', event: name, why: 'no room' };
      const session = await db.findSessionByRoom(room);
      if (!session) return { action: 'ignored', event: name, why: 'unknown room' };

      if (name === 'room_finished') return end(name, session, 'room_finished');
      if (name === 'room_started') {
        return session.status === 'ended'
          ? closeEndedRoom(name, session, room)
          : { action: 'ignored', event: name, why: 'session live' };
      }
      // The participant events: only the caller's matter.
      if (!participant?.identity) return { action: 'ignored', event: name, why: 'no participant' };
      if (participant.identity !== session.user_id)
        return { action: 'ignored', event: name, why: 'not the caller' };
      switch (name) {
        case 'participant_joined':
          return callerJoined(name, session, room);
        case 'participant_connection_aborted':
          return end(name, session, 'connection_aborted');
        default:
          if (NOT_REALLY_GONE.has(participant.disconnectReason)) {
            return { action: 'ignored', event: name, why: 'caller reconnected' };
          }
          return end(name, session, 'caller_left');
      }
    },
  };
}
