import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/errors.ts';
import { parseTokenRequest } from '../../src/token-request.ts';

const AGENT = 'voice-agent';

describe('parseTokenRequest', () => {
  it.each([
    ['no body', undefined, {}],
    ['empty string', '', {}],
    ['empty object', '{}', {}],
    [
      'what livekit-client TokenSource.endpoint sends (snake_case protobuf JSON)',
      JSON.stringify({
        room_name: 'ignored',
        participant_name: 'Ada',
        participant_identity: 'ignored',
        participant_metadata: '{}',
        participant_attributes: { a: 'b' },
        room_config: { agents: [{ agent_name: AGENT, metadata: 'x' }] },
      }),
      { participant_name: 'Ada' },
    ],
    ['our agent in camelCase', JSON.stringify({ room_config: { agents: [{ agentName: AGENT }] } }), {}],
    ['an agent with no name', JSON.stringify({ room_config: { agents: [{}] } }), {}],
    [
      'conversation to continue',
      JSON.stringify({ conversation_id: '7f0b8a4e-4a35-4b43-9d7e-0a4d3c9c2f10' }),
      { conversation_id: '7f0b8a4e-4a35-4b43-9d7e-0a4d3c9c2f10' },
    ],
  ])('accepts %s', (_name, body, expected) => {
    expect(parseTokenRequest(body, AGENT)).toMatchObject(expected);
  });

  it.each([
    ['invalid JSON', '{"room_name":'],
    ['JSON null', 'null'],
    ['JSON array', '[]'],
    ['JSON string', '"hello"'],
    ['JSON number', '42'],
    ['unknown field', '{"admin":true}'],
    ['wrong type', '{"room_name":42}'],
    ['too long name', JSON.stringify({ participant_name: 'x'.repeat(129) })],
    ['conversation id not a uuid', '{"conversation_id":"../../etc"}'],
    ['attributes not strings', '{"participant_attributes":{"a":1}}'],
    [
      'room_config naming another agent',
      JSON.stringify({ room_config: { agents: [{ agent_name: 'evil-agent' }] } }),
    ],
    [
      'room_config naming ours and another',
      JSON.stringify({ room_config: { agents: [{ agent_name: AGENT }, { agentName: 'other' }] } }),
    ],
    ['room_config with wrong types', JSON.stringify({ room_config: { agents: 'all' } })],
    ['room_config not an object', JSON.stringify({ room_config: ['x'] })],
    ['__proto__ pollution attempt', '{"__proto__":{"admin":true}}'],
  ])('refuses %s with 400 BAD_REQUEST', (_name, body) => {
    let caught: unknown;
    try {
      parseTokenRequest(body, AGENT);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ApiError);
    expect(caught).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
  });
});
