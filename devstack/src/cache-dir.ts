import os from 'node:os';
import path from 'node:path';

/**
 * ${VOICECALL_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/voicecall}: what the devstack builds once per machine
 * (livekit-server, an initialised PostgreSQL cluster template), outside the work tree and shared by every clone.
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VOICECALL_CACHE_DIR) return env.VOICECALL_CACHE_DIR;
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'voicecall');
}
