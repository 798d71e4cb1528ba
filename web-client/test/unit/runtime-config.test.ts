import { describe, expect, it } from 'vitest';
import { apiKeyRole, parseRuntimeConfig, RuntimeConfigError } from '../../src/config/runtime-config.ts';

const jwt = (payload: object) =>
  `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;

describe('runtime config', () => {
  it('accepts a deployment config and normalises URLs', () => {
    expect(
      parseRuntimeConfig({
        supabaseUrl: 'http://127.0.0.1:54321/',
        supabaseAnonKey: jwt({ role: 'anon' }),
        tokenServiceUrl: 'https://voice.example.com//',
        simulatedProviders: true,
      }),
    ).toEqual({
      supabaseUrl: 'http://127.0.0.1:54321',
      supabaseAnonKey: jwt({ role: 'anon' }),
      tokenServiceUrl: 'https://voice.example.com',
      simulatedProviders: true,
      magicLinkEnabled: false,
      agentJoinTimeoutSeconds: 30,
    });
  });

  it('refuses a service role key so it can never be served to a browser', () => {
    expect(apiKeyRole(jwt({ role: 'service_role' }))).toBe('service_role');
    expect(() =>
      parseRuntimeConfig({
        supabaseUrl: 'http://a',
        supabaseAnonKey: jwt({ role: 'service_role' }),
        tokenServiceUrl: 'http://b',
      }),
    ).toThrow(/service role/);
  });

  it('rejects missing or malformed fields with a RuntimeConfigError', () => {
    const good = { supabaseUrl: 'http://a', supabaseAnonKey: 'k', tokenServiceUrl: 'http://b' };
    for (const bad of [
      null,
      'x',
      { ...good, supabaseUrl: undefined },
      { ...good, tokenServiceUrl: 'ftp://b' },
      { ...good, tokenServiceUrl: 'not a url' },
      { ...good, supabaseAnonKey: '' },
      { ...good, agentJoinTimeoutSeconds: -1 },
    ]) {
      expect(() => parseRuntimeConfig(bad)).toThrow(RuntimeConfigError);
    }
  });
});
