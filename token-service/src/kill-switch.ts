import type { Logger } from '@voice/core';
import { z } from 'zod';
import type { Database } from './database.ts';

/**
 * The kill switch as the service sees it. The database decides per request (claim_voice_session reads
 * `voice_flags`, most specific row wins), so turning voice OFF takes effect on the very next request. This cache
 * only lets the service refuse WITHOUT touching the database while voice is off everywhere (e.g. switched off
 * because the database is struggling): it short-circuits only on a fresh (≤ cacheMs old) snapshot that says
 * "globally off, no tier/user turned back on". So turning voice back ON takes effect within `cacheMs`
 * (VOICE_FLAGS_CACHE_MS, default 2 s).
 */
export interface KillSwitch {
  /** true when voice is known (freshly) to be off for everyone. */
  isOffEverywhere(): Promise<boolean>;
}

const snapshotSchema = z.object({ global_enabled: z.boolean(), has_enabled_overrides: z.boolean() });

export function createKillSwitch(options: {
  db: Database;
  cacheMs: number;
  logger: Logger;
  now?: () => number;
}): KillSwitch {
  const now = options.now ?? Date.now;
  let offEverywhere = false;
  let loadedAt = Number.NEGATIVE_INFINITY;
  let attemptedAt = Number.NEGATIVE_INFINITY;
  let inflight: Promise<void> | undefined;

  async function refresh(): Promise<void> {
    attemptedAt = now();
    try {
      const snapshot = snapshotSchema.parse(await options.db.rpc('voice_flags_snapshot', {}));
      offEverywhere = !snapshot.global_enabled && !snapshot.has_enabled_overrides;
      loadedAt = now();
    } catch (error) {
      // Unknown state: do not short-circuit; claim_voice_session decides (and reports the database as down).
      options.logger.warn({ err: String(error) }, 'kill switch: could not read voice flags');
    }
  }

  return {
    async isOffEverywhere() {
      if (options.cacheMs <= 0) return false;
      const t = now();
      // After a failed read, wait a cache period before trying again, so a down database is not hit twice per request.
      if (t - loadedAt > options.cacheMs && t - attemptedAt > options.cacheMs) {
        inflight ??= refresh().finally(() => {
          inflight = undefined;
        });
        await inflight;
      }
      return now() - loadedAt <= options.cacheMs && offEverywhere;
    },
  };
}
