import { type TokenRequest, tokenRequestSchema } from '@voice/core';
import { RoomConfiguration } from 'livekit-server-sdk';
import { ApiError } from './errors.ts';

/**
 * Reads the body of POST /v1/token: LiveKit's standard token-endpoint request (what livekit-client's
 * `TokenSource.endpoint` sends: protobuf JSON with snake_case names) plus `conversation_id`. All fields are
 * optional. Identity and room name are accepted for SDK compatibility and ignored; `room_config` is parsed as a
 * real RoomConfiguration and refused if it names an agent other than ours (a client must not pick the agent).
 * Fields this service does not know are ignored (SDKs add fields over time); the ones it knows are validated.
 */
export function parseTokenRequest(rawBody: unknown, agentName: string): TokenRequest {
  let body: unknown;
  if (rawBody === undefined || rawBody === null || rawBody === '') {
    body = {};
  } else if (typeof rawBody === 'string') {
    try {
      body = JSON.parse(rawBody);
    } catch {
      throw badRequest('The request body is not valid JSON.');
    }
  } else {
    body = rawBody;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('The request body must be a JSON object.');
  }

  const parsed = tokenRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'body';
    throw badRequest(`Invalid request: ${where}: ${issue?.message ?? 'invalid'}.`);
  }

  if (parsed.data.room_config) checkRoomConfig(parsed.data.room_config, agentName);
  return parsed.data;
}

function checkRoomConfig(roomConfig: Record<string, unknown>, agentName: string): void {
  // Unknown fields are tolerated: newer client SDKs may send fields this protocol version does not know yet.
  let config: RoomConfiguration;
  try {
    config = RoomConfiguration.fromJson(roomConfig as never, { ignoreUnknownFields: true });
  } catch {
    throw badRequest('Invalid request: room_config is not a valid LiveKit RoomConfiguration.');
  }
  for (const agent of config.agents) {
    // livekit-client sends the agent it was told to expect; only ours (or none) is acceptable.
    if (agent.agentName !== '' && agent.agentName !== agentName) {
      throw badRequest('Invalid request: room_config names an agent this service does not dispatch.');
    }
  }
}

function badRequest(message: string): ApiError {
  return new ApiError(400, 'BAD_REQUEST', message);
}
