import { z } from 'zod';
import { envBoolean, envUrl, logLevel } from '../env.ts';

/**
 * Config fragments both services use. Each service composes its own schema in `core/src/config/<service>.ts`
 * from these and its own variables, and parses it once at start-up with `parseEnv`.
 */
export const loggingEnv = z.object({
  LOG_LEVEL: logLevel.default('info'),
  /** Keep transcripts/prompts in the `sensitive` log field. Debugging only. */
  LOG_SENSITIVE: envBoolean.default(false),
});

export const supabaseServerEnv = z.object({
  /** The project's API URL (serves /auth/v1 and /rest/v1). */
  SUPABASE_URL: envUrl,
  /** Service role key: bypasses RLS. Server-side only. */
  SUPABASE_SERVICE_ROLE_KEY: z.string().min(20, 'must be the project service_role JWT'),
});

export const livekitServerEnv = z.object({
  /** The LiveKit server URL as clients reach it (ws:// or wss://). */
  LIVEKIT_URL: z.string().regex(/^wss?:\/\/.+/, 'must start with ws:// or wss://'),
  LIVEKIT_API_KEY: z.string().min(1),
  LIVEKIT_API_SECRET: z.string().min(1),
});
