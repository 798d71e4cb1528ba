import { envPort, parseEnv } from '@voice/core';
import { z } from 'zod';

/**
 * `npm start` (devstack CLI) settings. All optional: with none set it starts a stack on free ports with its data
 * in .devstack/ (kept between runs) and the fixed dev JWT secret, so printed keys stay valid across restarts.
 */
export const devstackEnv = z.object({
  /** Data and logs; `temp` = a fresh temp dir removed on exit. */
  DEVSTACK_DIR: z.string().default('.devstack'),
  /** HS256 secret for user tokens and the anon/service keys (32+ chars). */
  DEVSTACK_JWT_SECRET: z.string().min(32).optional(),
  DEVSTACK_GATEWAY_PORT: envPort.default(0),
  DEVSTACK_POSTGRES_PORT: envPort.default(0),
  DEVSTACK_LIVEKIT_PORT: envPort.default(0),
  DEVSTACK_LIVEKIT_RTC_TCP_PORT: envPort.default(0),
  DEVSTACK_LIVEKIT_RTC_UDP_PORT: envPort.default(0),
  /** An existing livekit-server v1.13.5 binary (else the cache, else built once with Go). */
  LIVEKIT_SERVER_BIN: z.string().optional(),
  /** Cache for Go-built binaries (default ${XDG_CACHE_HOME:-~/.cache}/voicecall). */
  VOICECALL_CACHE_DIR: z.string().optional(),
});
export type DevstackEnv = z.infer<typeof devstackEnv>;

export function loadDevstackConfig(env: NodeJS.ProcessEnv = process.env): DevstackEnv {
  return parseEnv('devstack', devstackEnv, env);
}
