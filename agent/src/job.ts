import { existsSync, readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { defineAgent, type JobContext, type JobProcess, type VAD } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { createLogger, parseDispatchMetadata } from '@voice/core';
import { loadAgentConfig } from '@voice/core/config/agent';
import { redactFrameworkLogs } from './pipeline/framework-log-privacy.ts';
import { warmRtcRuntime } from './pipeline/rtc-warmup.ts';
import { SILERO_VAD_OPTIONS } from './pipeline/vad-options.ts';
import { VoiceCall } from './session/voice-call.ts';

/**
 * The job module agents-js forks per call (ServerOptions.agent points here). `prewarm` runs once per process,
 * before a job is assigned, so the Silero model is loaded when the caller arrives.
 */
interface ProcessData extends Record<string, unknown> {
  vad?: VAD;
}

// The worker (main.ts) refused to start with an unusable model and refuses calls while one is; a job process only
// runs calls it accepted.
const config = loadAgentConfig(process.env, { models: 'worker-checked' });
const logger = createLogger({
  name: 'agent-job',
  level: config.logLevel,
  includeSensitive: config.logSensitive,
});
/** Milliseconds since this job process started (start-up cost is a large part of time-to-greeting). */
const sinceStart = () => Math.round(performance.now());

/**
 * The process started at a low priority (main.ts, AGENT_JOB_START_NICE) so that starting it did not starve the
 * calls in progress; a call runs at normal priority. On Linux a nice value belongs to a thread, and the threads
 * started during prewarm (rtc-node's runtime, WebRTC audio and network threads) inherited the low one: every
 * thread of the process is raised, not only the main one. Needs root or CAP_SYS_NICE: without, it stays niced.
 */
function restoreCallPriority(): void {
  const nice = getPriority();
  if (nice <= 0) return;
  let threads: string[] = [];
  try {
    threads = readdirSync('/proc/self/task');
  } catch {
    threads = [String(process.pid)]; // no procfs: the main thread at least
  }
  for (const tid of threads) {
    try {
      setPriority(Number(tid), 0);
    } catch {
      if (!existsSync(`/proc/self/task/${tid}`)) continue; // the thread ended meanwhile
      logger.debug(
        { nice },
        'cannot raise the job process priority back (no CAP_SYS_NICE); the call runs niced',
      );
      return;
    }
  }
}

export default defineAgent<ProcessData>({
  prewarm: async (proc: JobProcess<ProcessData>) => {
    redactFrameworkLogs({ includeSensitive: config.logSensitive });
    proc.userData.vad = await silero.VAD.load(SILERO_VAD_OPTIONS);
    await warmRtcRuntime();
    logger.info({ msSinceProcessStart: sinceStart() }, 'job process prewarmed');
  },
  entry: async (ctx: JobContext<ProcessData>) => {
    redactFrameworkLogs({ includeSensitive: config.logSensitive });
    restoreCallPriority();
    logger.info({ jobId: ctx.job.id, msSinceProcessStart: sinceStart() }, 'job assigned');
    const meta = parseDispatchMetadata(ctx.job.metadata);
    if (!meta) {
      // Only the token service can dispatch us with metadata; anything else is a stray or forged dispatch.
      // Leave without joining and without touching any session.
      logger.warn({ jobId: ctx.job.id }, 'job without valid dispatch metadata; leaving');
      ctx.shutdown('invalid_dispatch');
      return;
    }
    const vad = ctx.proc.userData.vad ?? (await silero.VAD.load(SILERO_VAD_OPTIONS));
    const call = new VoiceCall({ ctx, config, meta, logger });
    try {
      await call.run(vad);
    } catch (error) {
      logger.error({ err: error instanceof Error ? error.message : String(error) }, 'call failed');
      await call.finish('error');
    }
  },
});
