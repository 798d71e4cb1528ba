import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTokenServiceProcess } from '@voice/devstack/services/token-service';
import { testStack } from '@voice/devstack/testing/stack';
import { createTestUser } from '@voice/devstack/testing/users';
import { describe, expect, it } from 'vitest';
import { databasePathEnv } from '../support/database-path.ts';

// The process entry (token-service/src/main.ts) as production runs it: config from the environment, serving,
// and a clean exit on SIGTERM.
const stack = testStack();

describe('token-service process', () => {
  it('serves tokens from its environment and exits 0 on SIGTERM', async () => {
    const logDir = mkdtempSync(path.join(os.tmpdir(), 'token-service-'));
    const service = await startTokenServiceProcess(stack, logDir, {
      env: { LOG_LEVEL: 'warn', ...databasePathEnv(stack) },
    });
    try {
      const user = await createTestUser(stack, { tier: 'studio' });
      const response = await fetch(`${service.url}/v1/token`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(response.status).toBe(201);
      expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
    } finally {
      process.kill(service.pid, 'SIGTERM');
      const exit = await service.exited;
      expect(exit.code).toBe(0);
      await service.stop();
    }
    await expect(fetch(`${service.url}/healthz`)).rejects.toThrow();
  });
});
