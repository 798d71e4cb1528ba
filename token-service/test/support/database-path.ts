import type { StackInfo } from '@voice/devstack/stack-info';

/**
 * Which database path the token-service tests run: PostgREST (the default), or the direct Postgres connection
 * with `TOKEN_TEST_DATABASE=postgres npx vitest run token-service`. Every test in the suite must pass on both.
 */
export function databasePathEnv(stack: StackInfo): Record<string, string> {
  return process.env.TOKEN_TEST_DATABASE === 'postgres' ? { TOKEN_DATABASE_URL: stack.databaseUrl } : {};
}
