import { tts } from '@livekit/agents';
import type { Logger } from '@voice/core';
import type { AgentConfig, SpeechProvider } from '@voice/core/config/agent';
import OpenAI from 'openai';
import type { ClientOptions } from 'ws';
import type { SpeechObserver } from '../usage/speech-usage.ts';
import { DeepgramSpeech } from './deepgram-speech.ts';
import { OpenAISpeech, replySentenceTokenizer } from './openai-speech.ts';
import { providerFetch } from './provider-http.ts';
import { RealtimeSpeech } from './realtime-speech.ts';

/** Retries of one speech request (429, 5xx, connection errors), with the SDK's backoff and Retry-After. */
export const SPEECH_REQUEST_RETRIES = 2;

/**
 * Retries of a sentence on one engine before the next engine speaks it, when several engines are configured: one,
 * for an error that may pass (a dropped connection before any audio); a stall or a refusal goes to the next engine
 * at once. A single engine gets the session's usual retries (ttsConnOptions).
 */
const RETRIES_PER_ENGINE_WITH_FAILOVER = 1;

export interface CallSpeech {
  /** The engines in failover order. */
  engines: tts.TTS[];
  /**
   * Speaks one text (the greeting; each sentence of a reply): with several engines, the framework's FallbackAdapter
   * over them (the first that works speaks); with one, that engine.
   */
  sentences: tts.TTS;
  /** The session's TTS: a streamed reply cut into sentences, each spoken by {@link sentences}. */
  session: tts.StreamAdapter;
  /** Opens what can be opened ahead of the first sentence (the Realtime API connection). */
  warm(): void;
  close(): Promise<void>;
}

export interface CallSpeechOptions {
  observer: SpeechObserver;
  logger: Logger;
  /** WebSocket options for the Realtime API (tests: a CA to trust). */
  realtimeSocketOptions?: ClientOptions;
  /** An engine failed (the next one speaks) or recovered. */
  onAvailability?(provider: SpeechProvider, available: boolean): void;
}

/**
 * The call's speech: the engines TTS_PROVIDERS names, in that order, behind the framework's FallbackAdapter, which
 * tracks which engine works, speaks a sentence with the next engine when one fails or stalls (no audio within
 * TTS_FIRST_AUDIO_TIMEOUT_MS), checks a failed engine in the background every TTS_RECOVERY_INTERVAL_SECONDS and
 * returns to it once it answers. The failover works per sentence (the StreamAdapter in front cuts replies into
 * sentences and synthesises each through the adapter), so a reply whose engine breaks off goes on with the next
 * engine at its next sentence rather than falling silent. The same objects serve the greeting and the session, so
 * one Realtime connection serves the whole call.
 */
export function buildCallSpeech(config: AgentConfig, options: CallSpeechOptions): CallSpeech {
  // With a failover, an engine's failure must reach the adapter even after some of the sentence played.
  const surfaceFailures = config.speech.providers.length > 1;
  const engines = config.speech.providers.map((provider) =>
    buildEngine(provider, config, options, surfaceFailures),
  );
  const sentences = engines.length > 1 ? failover(engines, config, options) : (engines[0] as tts.TTS);
  const session = new tts.StreamAdapter(sentences, replySentenceTokenizer());
  return {
    engines,
    sentences,
    session,
    warm() {
      for (const engine of engines) if (engine instanceof RealtimeSpeech) engine.warm();
    },
    async close() {
      await session.close();
      // The adapter closes every engine (and the Realtime connection), detaching its listeners.
      await sentences.close();
      // A late error from a stream still ending must not throw for want of a listener.
      for (const engine of engines) engine.on('error', () => undefined);
    },
  };
}

function failover(engines: tts.TTS[], config: AgentConfig, options: CallSpeechOptions): tts.FallbackAdapter {
  const adapter = new tts.FallbackAdapter({
    ttsInstances: engines,
    maxRetryPerTTS: RETRIES_PER_ENGINE_WITH_FAILOVER,
    recoveryDelayMs: config.speech.recoveryIntervalMs,
  });
  // An engine's own failure is the adapter's business (it speaks the sentence with the next engine); forwarded to
  // the session, each one would count towards the session's limit of unrecoverable errors (5 between two replies),
  // and background recovery checks of an engine that stays down would end the call. The session hears of speech
  // errors only when no engine could speak (the adapter's own error).
  for (const [index, engine] of engines.entries()) {
    engine.removeAllListeners('error');
    engine.on('error', (event) =>
      options.logger.debug(
        {
          provider: config.speech.providers[index],
          recoverable: event.recoverable,
          err: event.error.message,
        },
        'speech engine error',
      ),
    );
  }
  // The adapter emits this from `emit`, untyped.
  (adapter as unknown as NodeJS.EventEmitter).on(
    'tts_availability_changed',
    (event: { tts: tts.TTS; available: boolean }) => {
      const provider = config.speech.providers[engines.indexOf(event.tts)];
      if (provider) options.onAvailability?.(provider, event.available);
      if (event.available) options.logger.info({ provider }, 'speech engine recovered; it speaks again');
      else
        options.logger.warn({ provider }, 'speech engine failed; the next engine speaks until it recovers');
    },
  );
  return adapter;
}

function buildEngine(
  provider: SpeechProvider,
  config: AgentConfig,
  options: CallSpeechOptions,
  surfaceFailures: boolean,
): tts.TTS {
  switch (provider) {
    case 'openai-realtime':
      return new RealtimeSpeech({
        client: new OpenAI({
          apiKey: config.openai.apiKey,
          ...(config.openai.realtimeBaseUrl ? { baseURL: config.openai.realtimeBaseUrl } : {}),
        }),
        model: config.openai.realtimeModel,
        voice: config.openai.realtimeVoice,
        observer: options.observer,
        surfaceFailures,
        ...(options.realtimeSocketOptions ? { socketOptions: options.realtimeSocketOptions } : {}),
        onConnection: (event, detail) => {
          if (event === 'connected') options.logger.debug('realtime speech connected');
          else options.logger.warn({ detail }, `realtime speech connection ${event}`);
        },
      });
    case 'deepgram':
      return new DeepgramSpeech({
        apiKey: config.deepgram.apiKey,
        model: config.speech.deepgramModel,
        observer: options.observer,
        surfaceFailures,
        ...(config.deepgram.baseUrl ? { baseUrl: config.deepgram.baseUrl } : {}),
      });
    case 'openai-speech':
      return new OpenAISpeech({
        model: config.openai.ttsModel,
        voice: config.openai.ttsVoice,
        observer: options.observer,
        surfaceFailures,
        client: new OpenAI({
          apiKey: config.openai.apiKey,
          ...(config.openai.baseUrl ? { baseURL: config.openai.baseUrl } : {}),
          maxRetries: SPEECH_REQUEST_RETRIES,
          // Keeps the connection open between turns (see PROVIDER_KEEP_ALIVE_MS).
          fetch: providerFetch,
          // A sentence of speech starts within a second or two; a hung request must not hold the turn for minutes.
          timeout: 15_000,
        }),
      });
  }
}
