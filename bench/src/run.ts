/**
 * `npm run bench` entry. @livekit/rtc-node logs every data-stream message at debug level unless NODE_ENV is
 * production, which would bury the benchmark output; it reads NODE_ENV at import, so set it before loading.
 */
process.env.NODE_ENV ??= 'production';
await import('./run-benchmarks.ts');
