import { loadavg } from 'node:os';
import { initializeLogger, tts } from '@livekit/agents';
import { createLogger } from '@voice/core';
import { loadAgentConfig, type SpeechProvider } from '@voice/core/config/agent';
import { startProviderStandins } from '@voice/devstack/standins/index';
import { buildCallSpeech } from '../../agent/src/pipeline/call-speech.ts';
import { summarize } from './lib/stats.ts';

/**
 * `npx tsx bench/src/speech-first-audio.ts [sentences]`: each speech engine alone, as the call builds it, against
 * its stand-in with first audio due 200 ms after the request (the bench profile): for each sentence, the time from
 * synthesize() to the first audio frame the engine hands on, and the process CPU per sentence. What is above
 * 200 ms is the engine's own cost (client, connection reuse, framing) plus the stand-in's, in one process; the
 * stand-ins' share is the same for every engine, so compare engines with each other, not with zero.
 */
const SENTENCES = Number(process.argv[2] ?? 20);
const TTFB_MS = 200;
const TEXTS = [
  'Paris is the capital of France.',
  'The moon has no air, so it is very quiet there.',
  'Sure.',
  'Once upon a time a friendly dragon baked warm bread for the whole village.',
];

initializeLogger({ pretty: false, level: 'silent' });
const print = (line: string) => process.stdout.write(`${line}\n`);
// A day before /v1/audio/speech's models shut down (2027-01-06), so the old engine can still be compared.
const standins = await startProviderStandins({ profile: { ttsTtfbMs: TTFB_MS }, calendarDate: '2026-12-05' });
const engines: SpeechProvider[] = ['openai-realtime', 'openai-speech', 'deepgram'];
print(
  `load average at start: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ')}`,
);
try {
  for (const provider of engines) {
    const config = loadAgentConfig({
      SUPABASE_URL: 'http://127.0.0.1:9',
      SUPABASE_SERVICE_ROLE_KEY: 'x'.repeat(40),
      LIVEKIT_URL: 'ws://127.0.0.1:9',
      LIVEKIT_API_KEY: 'k',
      LIVEKIT_API_SECRET: 's',
      DEEPGRAM_API_KEY: 'k',
      DEEPGRAM_BASE_URL: standins.deepgramUrl,
      ANTHROPIC_API_KEY: 'k',
      OPENAI_API_KEY: 'k',
      OPENAI_BASE_URL: standins.openaiUrl,
      OPENAI_REALTIME_BASE_URL: standins.openaiRealtimeUrl,
      TTS_PROVIDERS: provider,
      AGENT_MODEL_CALENDAR_DATE: '2026-12-05',
    });
    const speech = buildCallSpeech(config, {
      observer: { usage: () => undefined, spoken: () => undefined },
      logger: createLogger({ name: 'bench', level: 'silent' }),
      realtimeSocketOptions: { ca: standins.realtimeTls.ca },
    });
    speech.warm();
    // One sentence first: connections open, as they are after the greeting of a call.
    for await (const _ of speech.sentences.synthesize('Warming up.')) {
      // drain
    }
    const firstAudio: number[] = [];
    const cpuStart = process.cpuUsage();
    for (let i = 0; i < SENTENCES; i++) {
      const text = TEXTS[i % TEXTS.length] as string;
      const started = performance.now();
      let first: number | undefined;
      for await (const audio of speech.sentences.synthesize(text, {
        maxRetry: 0,
        retryIntervalMs: 0,
        timeoutMs: 10_000,
      })) {
        if (first === undefined && audio !== (tts.SynthesizeStream.END_OF_STREAM as unknown)) {
          first = performance.now() - started;
        }
      }
      if (first !== undefined) firstAudio.push(first);
    }
    const cpu = process.cpuUsage(cpuStart);
    const s = summarize(firstAudio);
    print(
      `${provider.padEnd(16)} first audio p50 ${s.p50.toFixed(0)} ms, p95 ${s.p95.toFixed(0)} ms (stand-in due at ${TTFB_MS}); ` +
        `CPU ${((cpu.user + cpu.system) / 1000 / SENTENCES).toFixed(1)} ms per sentence (engine and stand-in); ${firstAudio.length}/${SENTENCES} sentences`,
    );
    await speech.close();
  }
} finally {
  await standins.stop();
}
print(
  `load average at end: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ')}`,
);
