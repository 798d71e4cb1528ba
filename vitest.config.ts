import { defineConfig } from 'vitest/config';

// Two projects: `unit` is pure logic (no processes); `integration` runs against one local stack
// (Postgres, PostgREST, GoTrue, gateway, livekit-server) started once per run by the global setup.
// Integration files run one at a time: they share that stack, and some flip global state (kill switch,
// database stopped) that parallel files would observe.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['*/test/unit/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['*/test/integration/**/*.test.ts', 'e2e/test/**/*.test.ts'],
          globalSetup: ['devstack/src/testing/global-setup.ts'],
          fileParallelism: false,
          // @livekit/rtc-node logs at debug level (every data-stream message) unless NODE_ENV is production, and it
          // reads NODE_ENV once at import: the scripted callers would bury a green run's output in its lines.
          env: { NODE_ENV: 'production' },
          testTimeout: 90_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
