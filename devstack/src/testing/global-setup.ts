import type { TestProject } from 'vitest/node';
import { startStack } from '../stack.ts';
import './provided-context.ts';

/**
 * vitest globalSetup for the `integration` project: one local stack per run, shared by every integration and
 * e2e file through `inject('stack')`. Logs stay in the stack's temp dir while it runs (StackInfo.logDir) and after a
 * run with a failed test; set DEVSTACK_KEEP=1 to keep the whole dir after any run.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const stack = await startStack({ keepDir: process.env.DEVSTACK_KEEP === '1' });
  console.error(`devstack: stack up in ${Date.now() - started} ms (logs: ${stack.info.logDir})`);
  project.provide('stack', stack.info);
  return async () => {
    // A failed run keeps the services' logs (livekit-server, PostgREST, auth, agent workers) for whoever reads the
    // failure; a green run leaves nothing behind.
    const failed = project.vitest.state.getCountOfFailedTests() > 0;
    await stack.stop({ keepLogs: failed });
    if (failed) console.error(`devstack: tests failed; the services' logs are kept in ${stack.info.logDir}`);
  };
}
