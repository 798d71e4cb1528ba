import { z } from 'zod';
import { envBoolean, envList, envPort, envPositiveInt, envUrl, parseEnv } from '../env.ts';
import { livekitServerEnv, loggingEnv, supabaseServerEnv } from './shared.ts';

/**
 * The token service's environment. Every variable is documented in .env.example (section "token-service").
 * Limits live here rather than in the database so a deployment can tune them per environment; the database
 * function enforces whatever the service passes, atomically per user.
 */
export const tokenServiceEnv = z
  .object({
    ...loggingEnv.shape,
    ...supabaseServerEnv.shape,
    ...livekitServerEnv.shape,
    PORT: envPort.default(8787),
    HOST: z.string().min(1).default('127.0.0.1'),
    /**
     * Serve Prometheus /metrics on this separate port (same HOST) instead of the public one, so a deployment can
     * keep it off the internet. Unset → /metrics on PORT (local development).
     */
    TOKEN_METRICS_PORT: envPort.optional(),
    /** Web origins allowed to call the token endpoint from a browser (comma-separated). Empty → no CORS. */
    TOKEN_CORS_ORIGINS: envList.default([]),
    /** HS256 secret that signs the project's access tokens (Supabase "JWT secret"). */
    SUPABASE_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    /** The project's JWKS for asymmetric access tokens, e.g. https://<ref>.supabase.co/auth/v1/.well-known/jwks.json */
    SUPABASE_JWKS_URL: envUrl.optional(),
    /** When set, access tokens must carry this `iss` (e.g. https://<ref>.supabase.co/auth/v1). */
    SUPABASE_JWT_ISSUER: z.string().min(1).optional(),
    /** Allowed clock skew for `exp`/`nbf`/`iat` of access tokens. */
    SUPABASE_JWT_CLOCK_TOLERANCE_SECONDS: z.coerce.number().int().min(0).max(300).default(5),
    /** The agent the token dispatches into every room; the same variable the agent worker registers under. */
    AGENT_NAME: z.string().min(1).max(128).default('voice-agent'),
    VOICE_MAX_CONCURRENT_SESSIONS: envPositiveInt.default(3),
    VOICE_MAX_ISSUANCES_PER_MINUTE: envPositiveInt.default(10),
    VOICE_MONTHLY_MINUTES: envPositiveInt.default(600),
    VOICE_MAX_CALL_SECONDS: envPositiveInt.default(1800),
    /** Lifetime of the LiveKit participant token (only needed to join; LiveKit refreshes it for the session). */
    VOICE_TOKEN_TTL_SECONDS: z.coerce.number().int().min(10).max(3600).default(120),
    /** How long an issued but unused token holds a concurrent slot (the agent renews it once the call runs). */
    VOICE_SESSION_LEASE_SECONDS: z.coerce.number().int().min(5).max(3600).default(120),
    /** LiveKit room limits written into the token's RoomConfiguration. */
    VOICE_ROOM_MAX_PARTICIPANTS: envPositiveInt.default(3),
    VOICE_ROOM_EMPTY_TIMEOUT_SECONDS: envPositiveInt.default(120),
    VOICE_ROOM_DEPARTURE_TIMEOUT_SECONDS: envPositiveInt.default(20),
    /** Request body limit; larger bodies get 413. */
    TOKEN_BODY_LIMIT_BYTES: z.coerce.number().int().min(256).max(1_048_576).default(8192),
    /**
     * A request (headers and body) must arrive within this time, or the connection gets 408 and is closed: a
     * client that stalls or trickles its body (slowloris) cannot hold a connection for long.
     */
    TOKEN_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1000).max(120_000).default(10_000),
    /** Open connections one instance accepts; connections beyond are closed at once. */
    TOKEN_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(1_000_000).default(2048),
    /**
     * LiveKit's server API (rooms, agent dispatch) as the token service reaches it; the dispatch watchdog and the
     * webhook handler use it. Unset → LIVEKIT_URL with ws(s):// read as http(s)://.
     */
    LIVEKIT_API_URL: z
      .string()
      .regex(/^https?:\/\/.+/, 'must start with http:// or https://')
      .optional(),
    /**
     * The join deadline: when the agent has not joined this many seconds after the caller did, the call ends with
     * end_reason 'agent_unavailable', its slot is freed and its room closed. Token responses carry it.
     */
    VOICE_AGENT_JOIN_TIMEOUT_SECONDS: z.coerce.number().int().min(5).max(300).default(30),
    /**
     * Seconds after the caller joined before the watchdog first looks for the agent (it usually joins in ~1 s);
     * then it looks again, and dispatches again when no worker took the job, with backoff (doubling, at most 8 s)
     * until the deadline.
     */
    VOICE_DISPATCH_FIRST_CHECK_SECONDS: z.coerce.number().min(0.5).max(60).default(3),
    /** How often each instance asks the database for due watchdog checks. */
    VOICE_DISPATCH_WATCHDOG_POLL_MS: z.coerce.number().int().min(100).max(60_000).default(1000),
    /** How long the service trusts its cached copy of the global kill switch (the database check is immediate). */
    VOICE_FLAGS_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(2000),
    /** A hard off switch in the environment (no database needed). The database flags are the runtime switch. */
    VOICE_ENABLED: envBoolean.default(true),
    /**
     * Optional: a Postgres connection string for the token service's SQL calls (claim, end, kill-switch
     * snapshot, the webhook's session lookup), instead of going through PostgREST at SUPABASE_URL. Saves two HTTP
     * hops (API gateway, PostgREST) per token. Supabase: Project Settings → Database → connection string (the
     * transaction pooler, port 6543, suits many short calls). The role must be allowed to execute the
     * voice_* SQL functions (`postgres`, or a role granted `service_role`). Unset → PostgREST.
     */
    TOKEN_DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\/[^/]/, 'must be a postgres:// or postgresql:// connection string')
      .refine((v) => URL.canParse(v), 'is not a valid connection URL')
      .optional(),
    /** Connections the token service keeps to TOKEN_DATABASE_URL (per instance). */
    TOKEN_DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10),
    /** Timeout for each database call; a slower database counts as unavailable (503). */
    TOKEN_DB_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(3000),
    /** Retry-After sent with 503 UNAVAILABLE. */
    TOKEN_UNAVAILABLE_RETRY_AFTER_SECONDS: envPositiveInt.default(5),
  })
  .refine((env) => env.SUPABASE_JWT_SECRET !== undefined || env.SUPABASE_JWKS_URL !== undefined, {
    message: 'set SUPABASE_JWT_SECRET and/or SUPABASE_JWKS_URL to verify access tokens',
    path: ['SUPABASE_JWT_SECRET'],
  });

export type TokenServiceEnv = z.infer<typeof tokenServiceEnv>;

export interface TokenServiceConfig {
  port: number;
  host: string;
  /** Separate listener for /metrics; undefined → /metrics is served on `port`. */
  metricsPort?: number;
  corsOrigins: string[];
  log: { level: string; includeSensitive: boolean };
  supabase: { url: string; serviceRoleKey: string; dbTimeoutMs: number };
  /** Direct Postgres for the SQL calls; undefined → PostgREST at supabase.url. */
  database?: { url: string; poolSize: number };
  auth: {
    jwtSecret?: string;
    jwksUrl?: string;
    issuer?: string;
    clockToleranceSeconds: number;
  };
  livekit: { url: string; apiUrl: string; apiKey: string; apiSecret: string };
  agentName: string;
  dispatch: { joinTimeoutSeconds: number; firstCheckSeconds: number; pollMs: number };
  limits: {
    maxConcurrentSessions: number;
    maxIssuancesPerMinute: number;
    monthlyMinutes: number;
    maxCallSeconds: number;
  };
  tokenTtlSeconds: number;
  sessionLeaseSeconds: number;
  room: { maxParticipants: number; emptyTimeoutSeconds: number; departureTimeoutSeconds: number };
  bodyLimitBytes: number;
  requestTimeoutMs: number;
  maxConnections: number;
  flagsCacheMs: number;
  voiceEnabled: boolean;
  unavailableRetryAfterSeconds: number;
}

export function loadTokenServiceConfig(env: NodeJS.ProcessEnv = process.env): TokenServiceConfig {
  return toConfig(parseEnv('token-service', tokenServiceEnv, env));
}

function toConfig(e: TokenServiceEnv): TokenServiceConfig {
  return {
    port: e.PORT,
    host: e.HOST,
    metricsPort: e.TOKEN_METRICS_PORT,
    corsOrigins: e.TOKEN_CORS_ORIGINS,
    log: { level: e.LOG_LEVEL, includeSensitive: e.LOG_SENSITIVE },
    supabase: {
      url: e.SUPABASE_URL,
      serviceRoleKey: e.SUPABASE_SERVICE_ROLE_KEY,
      dbTimeoutMs: e.TOKEN_DB_TIMEOUT_MS,
    },
    database: e.TOKEN_DATABASE_URL
      ? { url: e.TOKEN_DATABASE_URL, poolSize: e.TOKEN_DATABASE_POOL_SIZE }
      : undefined,
    auth: {
      jwtSecret: e.SUPABASE_JWT_SECRET,
      jwksUrl: e.SUPABASE_JWKS_URL,
      issuer: e.SUPABASE_JWT_ISSUER,
      clockToleranceSeconds: e.SUPABASE_JWT_CLOCK_TOLERANCE_SECONDS,
    },
    livekit: {
      url: e.LIVEKIT_URL,
      apiUrl: e.LIVEKIT_API_URL ?? e.LIVEKIT_URL.replace(/^ws/, 'http'),
      apiKey: e.LIVEKIT_API_KEY,
      apiSecret: e.LIVEKIT_API_SECRET,
    },
    agentName: e.AGENT_NAME,
    dispatch: {
      joinTimeoutSeconds: e.VOICE_AGENT_JOIN_TIMEOUT_SECONDS,
      firstCheckSeconds: e.VOICE_DISPATCH_FIRST_CHECK_SECONDS,
      pollMs: e.VOICE_DISPATCH_WATCHDOG_POLL_MS,
    },
    limits: {
      maxConcurrentSessions: e.VOICE_MAX_CONCURRENT_SESSIONS,
      maxIssuancesPerMinute: e.VOICE_MAX_ISSUANCES_PER_MINUTE,
      monthlyMinutes: e.VOICE_MONTHLY_MINUTES,
      maxCallSeconds: e.VOICE_MAX_CALL_SECONDS,
    },
    tokenTtlSeconds: e.VOICE_TOKEN_TTL_SECONDS,
    sessionLeaseSeconds: e.VOICE_SESSION_LEASE_SECONDS,
    room: {
      maxParticipants: e.VOICE_ROOM_MAX_PARTICIPANTS,
      emptyTimeoutSeconds: e.VOICE_ROOM_EMPTY_TIMEOUT_SECONDS,
      departureTimeoutSeconds: e.VOICE_ROOM_DEPARTURE_TIMEOUT_SECONDS,
    },
    bodyLimitBytes: e.TOKEN_BODY_LIMIT_BYTES,
    requestTimeoutMs: e.TOKEN_REQUEST_TIMEOUT_MS,
    maxConnections: e.TOKEN_MAX_CONNECTIONS,
    flagsCacheMs: e.VOICE_FLAGS_CACHE_MS,
    voiceEnabled: e.VOICE_ENABLED,
    unavailableRetryAfterSeconds: e.TOKEN_UNAVAILABLE_RETRY_AFTER_SECONDS,
  };
}
