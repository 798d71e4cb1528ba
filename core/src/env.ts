import { z } from 'zod';

/** Raised at start-up when the environment does not satisfy a service's config schema. */
export class ConfigError extends Error {
  // Declared fields, not constructor parameter properties: job processes on Node 22.18+ load this file with Node's
  // own type stripping, which refuses syntax that needs code generated (agent/src/job-loader.ts, AGENT_JOB_LOADER).
  readonly service: string;
  readonly problems: readonly { variable: string; message: string }[];

  constructor(service: string, problems: readonly { variable: string; message: string }[]) {
    super(
      `${service}: invalid configuration\n` +
        problems.map((p) => `  - ${p.variable}: ${p.message}`).join('\n') +
        '\nSee .env.example for every variable and its meaning.',
    );
    this.service = service;
    this.problems = problems;
    this.name = 'ConfigError';
  }
}

/**
 * Validates `env` against a schema whose keys are environment variable names, once, at start-up.
 * Empty strings count as unset, so `FOO=` in an .env file falls back to the default instead of failing
 * a URL or number check with a confusing message.
 */
export function parseEnv<S extends z.ZodObject>(
  service: string,
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') input[key] = value.trim();
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(
    service,
    result.error.issues.map((issue) => ({
      variable: String(issue.path[0] ?? '(root)'),
      message:
        issue.code === 'invalid_type' && issue.input === undefined
          ? 'is required but not set'
          : issue.message,
    })),
  );
}

/** The environment variable names a schema reads (used to check .env.example, compose and fly.toml). */
export function envVariableNames(schema: z.ZodObject): string[] {
  return Object.keys(schema.shape).sort();
}

// Reusable field types. Environment values are strings; these coerce and check them.
export const envBoolean = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
export const envPort = z.coerce.number().int().min(0).max(65535);
export const envPositiveInt = z.coerce.number().int().positive();
export const envUrl = z.url();
/** A comma-separated list; empty entries dropped. */
export const envList = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
