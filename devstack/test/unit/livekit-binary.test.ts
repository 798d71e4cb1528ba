import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DevstackError } from '../../src/errors.ts';
import { cachedBinaryPath, resolveLivekitServer } from '../../src/processes/livekit-binary.ts';

describe('finding livekit-server', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lk-bin-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('without a binary and without Go, stops with what to install and which variable to set', async () => {
    const env = { PATH: tempDir(), VOICECALL_CACHE_DIR: tempDir() };
    const error = await resolveLivekitServer({ env, goCandidates: [], log: () => undefined }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DevstackError);
    const message = (error as Error).message;
    expect(message).toContain('install Go');
    expect(message).toContain('LIVEKIT_SERVER_BIN');
    expect(message).toContain('v1.13.5');
  });

  it('prefers LIVEKIT_SERVER_BIN, then the cache', async () => {
    const cache = tempDir();
    const cached = cachedBinaryPath({ VOICECALL_CACHE_DIR: cache });
    mkdirSync(path.dirname(cached), { recursive: true });
    writeFileSync(cached, '#!/bin/sh\n');
    chmodSync(cached, 0o755);
    const env = { PATH: tempDir(), VOICECALL_CACHE_DIR: cache };
    expect(await resolveLivekitServer({ env, goCandidates: [] })).toBe(cached);
    expect(
      await resolveLivekitServer({ env: { ...env, LIVEKIT_SERVER_BIN: '/bin/sh' }, goCandidates: [] }),
    ).toBe('/bin/sh');
    await expect(
      resolveLivekitServer({
        env: { ...env, LIVEKIT_SERVER_BIN: path.join(cache, 'missing') },
        goCandidates: [],
      }),
    ).rejects.toThrow(/LIVEKIT_SERVER_BIN=.* is not an executable/);
  });

  it('uses the XDG cache dir when VOICECALL_CACHE_DIR is unset', () => {
    expect(cachedBinaryPath({ XDG_CACHE_HOME: '/x' })).toBe('/x/voicecall/bin/livekit-server-v1.13.5');
  });
});
