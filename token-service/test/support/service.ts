import { createHash, randomUUID } from 'node:crypto';
import type { TokenResponse } from '@voice/core';
import type { StackInfo } from '@voice/devstack/stack-info';
import type { FastifyInstance } from 'fastify';
import { AccessToken } from 'livekit-server-sdk';
import { buildTokenService } from '../../src/app.ts';
import { testConfig } from './config.ts';
import { databasePathEnv } from './database-path.ts';

/** A real token-service instance on a free port, wired to the test stack. */
export interface RunningTokenService {
  app: FastifyInstance;
  url: string;
  requestToken(accessToken: string | undefined, body?: unknown): Promise<TokenReply>;
  close(): Promise<void>;
}

export interface TokenReply {
  status: number;
  headers: Headers;
  body: (TokenResponse & { error?: undefined }) | { error: { code: string; message: string } };
}

export async function startTokenService(
  stack: StackInfo,
  env: Record<string, string> = {},
  /** A port chosen beforehand (e.g. one livekit-server already sends webhooks to); default any free port. */
  port = 0,
): Promise<RunningTokenService> {
  const config = testConfig({
    supabaseUrl: stack.supabaseUrl,
    serviceRoleKey: stack.serviceRoleKey,
    jwtSecret: stack.jwtSecret,
    livekit: stack.livekit,
    env: { LOG_LEVEL: 'error', ...databasePathEnv(stack), ...env },
  });
  const app = await buildTokenService(config);
  const url = await app.listen({ port, host: '127.0.0.1' });
  return {
    app,
    url,
    async requestToken(accessToken, body) {
      const response = await fetch(`${url}/v1/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
        },
        body: JSON.stringify(body ?? {}),
      });
      return {
        status: response.status,
        headers: response.headers,
        body: (await response.json()) as TokenReply['body'],
      };
    },
    close: () => app.close(),
  };
}

/** Signs a webhook the way livekit-server does: JWT (issuer = API key, HS256) with the body's sha256 claim. */
export async function signWebhook(
  livekit: { apiKey: string; apiSecret: string },
  body: string,
): Promise<string> {
  const token = new AccessToken(livekit.apiKey, livekit.apiSecret, { ttl: '5m' });
  token.sha256 = createHash('sha256').update(body).digest('base64');
  return token.toJwt();
}

export function webhookBody(
  event: 'room_finished' | 'participant_left' | 'room_started' | 'participant_joined',
  roomName: string,
  identity?: string,
): string {
  return JSON.stringify({
    event,
    room: { sid: `RM_${randomUUID().slice(0, 12)}`, name: roomName },
    ...(identity ? { participant: { sid: `PA_${randomUUID().slice(0, 12)}`, identity } } : {}),
    id: `EV_${randomUUID().slice(0, 12)}`,
    createdAt: String(Math.floor(Date.now() / 1000)),
  });
}

export async function postWebhook(
  serviceUrl: string,
  body: string,
  authorization?: string,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${serviceUrl}/v1/livekit/webhook`, {
    method: 'POST',
    headers: {
      'content-type': 'application/webhook+json',
      ...(authorization ? { authorization } : {}),
    },
    body,
  });
  return { status: response.status, body: await response.json() };
}
