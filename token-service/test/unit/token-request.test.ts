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
    // LiveKit SDKs add request fields over time: unknown ones are ignored, not refused.
    ['a field a newer SDK sends', JSON.stringify({ participant_name: 'Ada', agent_session_hint: 'x' }), {}],
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

  it('drops unknown fields instead of passing them on, a __proto__ key included', () => {
    const parsed = parseTokenRequest(
      '{"participant_name":"Ada","admin":true,"__proto__":{"admin":true},"grants":{"roomAdmin":true}}',
      AGENT,
    );
    expect(parsed).toEqual({ participant_name: 'Ada' });
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(({} as { admin?: unknown }).admin).toBeUndefined();
  });

  it('still validates the fields it knows next to unknown ones', () => {
    expect(() => parseTokenRequest('{"future_field":1,"conversation_id":"nope"}', AGENT)).toThrow(ApiError);
  });
});
