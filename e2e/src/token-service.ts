import { join } from 'node:path';
import { createLogger, type TokenResponse } from '@voice/core';
import { loadTokenServiceConfig } from '@voice/core/config/token-service';
import { tokenServiceEnvFor } from '@voice/devstack/services/token-service';
import type { StackInfo } from '@voice/devstack/stack-info';
import { buildTokenService } from '@voice/token-service/app';

export interface E2eTokenService {
  url: string;
  /** POST /v1/token as the user; throws with the API error unless 201. */
  issue(accessToken: string, body?: Record<string, unknown>): Promise<TokenResponse>;
  close(): Promise<void>;
}

/** The real token service (buildTokenService) on a free port (or `port`), wired to the test stack. */
export async function startTokenService(
  stack: StackInfo,
  env: Record<string, string>,
  port = 0,
): Promise<E2eTokenService> {
  const config = loadTokenServiceConfig(
    tokenServiceEnvFor(stack, 0, {
      env: { LOG_LEVEL: 'warn', VOICE_MAX_ISSUANCES_PER_MINUTE: '100', ...env },
    }),
  );
  // Its log goes to the stack's log dir with the other services' (kept when a test fails), not into the test output.
  const logger = createLogger({
    name: 'token-service',
    level: config.log.level,
    file: join(stack.logDir, `token-service-e2e-${process.pid}.log`),
  });
  const app = await buildTokenService(config, { logger });
  const url = await app.listen({ port, host: '127.0.0.1' });
  return {
    url,
    async issue(accessToken, body = {}) {
      const response = await fetch(`${url}/v1/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
        body: JSON.stringify(body),
      });
      const json = (await response.json()) as TokenResponse & { error?: { code: string; message: string } };
      if (response.status !== 201)
        throw new Error(`token request failed: ${response.status} ${JSON.stringify(json)}`);
      return json;
    },
    close: () => app.close(),
  };
}
