import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

/**
 * A CPU profile of this process's JS thread over a window (`--cpu-profile DIR` in the density benchmark), written
 * as a `.cpuprofile` (Chrome DevTools, speedscope). In-process through the inspector because the benchmark runs
 * under tsx, where `--cpu-prof` would profile the loader too; the profiler's own cost shows in the profile.
 */
export async function startCpuProfile(): Promise<{ stop(file: string): Promise<void> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 1000 });
  await session.post('Profiler.start');
  return {
    async stop(file: string) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}
