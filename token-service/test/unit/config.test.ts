import { readFileSync } from 'node:fs';
import { ConfigError } from '@voice/core';
import { loadTokenServiceConfig, tokenServiceEnv } from '@voice/core/config/token-service';
import { describe, expect, it } from 'vitest';

const required = {
  SUPABASE_URL: 'https://project.supabase.co',
  SUPABASE_SERVICE_ROLE_KEY: 'x'.repeat(40),
  LIVEKIT_URL: 'wss://livekit.example.com',
  LIVEKIT_API_KEY: 'key',
  LIVEKIT_API_SECRET: 'secret',
};

describe('token-service config', () => {
  it('has documented defaults (3 concurrent calls, short TTL and lease, small body limit)', () => {
    const config = loadTokenServiceConfig({ ...required, SUPABASE_JWT_SECRET: 's'.repeat(32) });
    expect(config.limits.maxConcurrentSessions).toBe(3);
    expect(config.tokenTtlSeconds).toBeLessThanOrEqual(300);
    expect(config.sessionLeaseSeconds).toBeLessThanOrEqual(300);
    expect(config.bodyLimitBytes).toBeLessThanOrEqual(16 * 1024);
    expect(config.flagsCacheMs).toBe(2000);
    expect(config.corsOrigins).toEqual([]);
  });

  it('needs a JWT secret or a JWKS URL', () => {
    expect(() => loadTokenServiceConfig(required)).toThrow(ConfigError);
    expect(
      loadTokenServiceConfig({
        ...required,
        SUPABASE_JWKS_URL: 'https://p.supabase.co/auth/v1/.well-known/jwks.json',
      }).auth.jwksUrl,
    ).toBeTruthy();
  });

  it('reads lists and numbers, and names the bad variable', () => {
    const config = loadTokenServiceConfig({
      ...required,
      SUPABASE_JWT_SECRET: 's'.repeat(32),
      TOKEN_CORS_ORIGINS: 'http://localhost:5173, https://app.example.com',
      VOICE_MAX_CONCURRENT_SESSIONS: '5',
    });
    expect(config.corsOrigins).toEqual(['http://localhost:5173', 'https://app.example.com']);
    expect(config.limits.maxConcurrentSessions).toBe(5);
    expect(() =>
      loadTokenServiceConfig({
        ...required,
        SUPABASE_JWT_SECRET: 's'.repeat(32),
        VOICE_MAX_CONCURRENT_SESSIONS: '0',
      }),
    ).toThrow(/VOICE_MAX_CONCURRENT_SESSIONS/);
  });

  it('takes an optional direct Postgres URL for the SQL calls (PostgREST by default), and checks it', () => {
    const base = { ...required, SUPABASE_JWT_SECRET: 's'.repeat(32) };
    expect(loadTokenServiceConfig(base).database).toBeUndefined();
    // FOO= in an .env file means unset.
    expect(loadTokenServiceConfig({ ...base, TOKEN_DATABASE_URL: ' ' }).database).toBeUndefined();
    const url = 'postgresql://postgres.ref:pw@aws-0-eu.pooler.supabase.com:6543/postgres?sslmode=require';
    expect(loadTokenServiceConfig({ ...base, TOKEN_DATABASE_URL: url }).database).toEqual({
      url,
      poolSize: 10,
    });
    expect(
      loadTokenServiceConfig({ ...base, TOKEN_DATABASE_URL: url, TOKEN_DATABASE_POOL_SIZE: '4' }).database,
    ).toEqual({ url, poolSize: 4 });
    for (const bad of ['https://project.supabase.co', 'postgres:///nohost', 'postgresql://[bad']) {
      expect(() => loadTokenServiceConfig({ ...base, TOKEN_DATABASE_URL: bad })).toThrow(
        /TOKEN_DATABASE_URL/,
      );
    }
    expect(() =>
      loadTokenServiceConfig({ ...base, TOKEN_DATABASE_URL: url, TOKEN_DATABASE_POOL_SIZE: '0' }),
    ).toThrow(/TOKEN_DATABASE_POOL_SIZE/);
  });

  it('never puts the database URL (it holds a password) into a configuration error', () => {
    const secret = 'postgresql://u:hunter2-secret@[bad';
    let message = '';
    try {
      loadTokenServiceConfig({
        ...required,
        SUPABASE_JWT_SECRET: 's'.repeat(32),
        TOKEN_DATABASE_URL: secret,
      });
    } catch (error) {
      message = String(error);
    }
    expect(message).toMatch(/TOKEN_DATABASE_URL/);
    expect(message).not.toMatch(/hunter2/);
  });

  it('documents every variable in .env.example', () => {
    const example = readFileSync(new URL('../../../.env.example', import.meta.url), 'utf8');
    for (const name of Object.keys(tokenServiceEnv.shape)) {
      expect(example, name).toMatch(new RegExp(`^${name}=`, 'm'));
    }
  });
});
