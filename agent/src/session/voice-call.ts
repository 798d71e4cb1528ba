import { type JobContext, type llm, type VAD, voice } from '@livekit/agents';
import type { SupabaseClient } from '@supabase/supabase-js';
import { createServiceClient, type DispatchMetadata, type Logger } from '@voice/core';
import type { AgentConfig } from '@voice/core/config/agent';
import { reportObservation } from '../metrics/observation-reporter.ts';
import {
  type CallIdentity,
  latencyOf,
  TurnClock,
  type TurnLatency,
  toMessageRow,
  UserTurnRows,
} from '../persistence/message-rows.ts';
import { ConversationGoneError, upsertMessage } from '../persistence/supabase-writes.ts';
import { errorMessage, WriteQueue } from '../persistence/write-queue.ts';
import {
  buildAgentSession,
  buildProviders,
  CALLER_AUDIO_INPUT,
  type PipelineParts,
} from '../pipeline/build-session.ts';
import { PrefetchedSpeech } from '../pipeline/prefetched-speech.ts';
import { VoiceAgent } from '../pipeline/voice-agent.ts';
import type { SpeechObserver } from '../usage/speech-usage.ts';
import { SttAudioMeter } from '../usage/stt-audio-meter.ts';
import { UsageMeter } from '../usage/usage-meter.ts';
import { UsageRecorder } from '../usage/usage-recorder.ts';
import { CallTimers } from './call-timers.ts';
import { historyToChatContext, isHistoryItem, loadRecentMessages } from './history.ts';
import {
  activateVoiceSession,
  type EndReason,
  endVoiceSession,
  renewVoiceSessionLease,
  voiceSessionEndReason,
} from './lifecycle-rpc.ts';
import { PHRASES } from './phrases.ts';
import { SpeechLedger } from './speech-ledger.ts';

// The caller is gone by then; waiting long is cheap, and it lets writes ride out a database restart (PostgREST
// reconnects with a backoff of up to ~30 s).
const FLUSH_TIMEOUT_MS = 90_000;
const HISTORY_TIMEOUT_MS = 2_500;
// Synthesis started at job start; by the time the session is up it has usually produced audio. If not, this is
// how long the greeting may still wait for it before the session synthesises the greeting itself.
const GREETING_PREFETCH_WAIT_MS = 1_500;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => resolve(undefined), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/** Milliseconds from the job's start to each step of call setup (time to greeting is a product number). */
class SetupSteps {
  readonly #t0 = performance.now();
  readonly steps: Record<string, number> = {};
  mark(step: string): void {
    this.steps[step] = Math.round(performance.now() - this.#t0);
  }
}

/**
 * One voice call, from the job's start to its end: activate the session, continue the conversation, run the
 * pipeline, persist every turn and the usage, keep the lease, and end with a reason. `finish` is reachable from
 * every way a call can end (caller left, timers, errors, job shutdown) and runs once.
 */
export class VoiceCall {
  readonly #ctx: JobContext;
  readonly #config: AgentConfig;
  readonly #meta: DispatchMetadata;
  readonly #logger: Logger;
  readonly #db: SupabaseClient;
  readonly #queue: WriteQueue;
  readonly #call: CallIdentity;
  readonly #clock = new TurnClock();
  readonly #userTurns = new UserTurnRows();
  readonly #startedAtMs = Date.now();
  #session: voice.AgentSession | undefined;
  #providers: PipelineParts | undefined;
  #recorder: UsageRecorder | undefined;
  readonly #meter: UsageMeter;
  readonly #speechLedger = new SpeechLedger();
  #timers: CallTimers | undefined;
  #leaseTimer: NodeJS.Timeout | undefined;
  #finishing: Promise<void> | undefined;
  #wrappingUp = false;
  /** Claude requests that failed past their retries so far; a reply that ends after one owes the caller an apology. */
  #llmFailures = 0;
  #userTurnLatency: TurnLatency = {};

  constructor(opts: { ctx: JobContext; config: AgentConfig; meta: DispatchMetadata; logger: Logger }) {
    this.#ctx = opts.ctx;
    this.#config = opts.config;
    this.#meta = opts.meta;
    this.#call = {
      sessionId: opts.meta.session_id,
      userId: opts.meta.user_id,
      conversationId: opts.meta.conversation_id,
    };
    this.#logger = opts.logger.child({ sessionId: this.#call.sessionId, room: opts.ctx.job.room?.name });
    this.#db = createServiceClient(opts.config.supabase.url, opts.config.supabase.serviceRoleKey);
    this.#queue = new WriteQueue({ logger: this.#logger });
    this.#meter = new UsageMeter({ stt: opts.config.deepgram.model, llm: opts.config.anthropic.model });
  }

  /** Where the call's speech engines report: usage to the meter, finished sentences to the ledger and metrics. */
  #speechObserver(): SpeechObserver {
    return {
      usage: (usage) => this.#meter.addSpeech(usage),
      spoken: (sentence) => {
        this.#speechLedger.record(sentence);
        reportObservation({
          kind: 'speech_sentence',
          engine: sentence.provider,
          mismatch: sentence.transcriptMismatch,
        });
      },
    };
  }

  async run(vad: VAD): Promise<void> {
    const ctx = this.#ctx;
    const setup = new SetupSteps();
    const providers = buildProviders(this.#config, {
      observer: this.#speechObserver(),
      logger: this.#logger,
      onAvailability: (engine, available) => reportObservation({ kind: 'speech_engine', engine, available }),
    });
    this.#providers = providers;
    // Time to greeting is what a caller feels first: synthesise the greeting and join the room while the session
    // is activated, rather than one after the other. The Realtime connection opens now for the same reason.
    providers.speech.warm();
    const greeting = this.#config.greeting
      ? PrefetchedSpeech.start(providers.speech.sentences, this.#config.greeting, {
          maxRetry: 0,
          retryIntervalMs: 300,
          timeoutMs: this.#config.speech.firstAudioTimeoutMs,
        })
      : undefined;
    const connected = ctx.connect().then(() => setup.mark('connected'));
    // Awaited below; until then a failure must not surface as an unhandled rejection.
    connected.catch(() => undefined);

    if (!(await this.#activate())) {
      // Over already (ended, expired): leave without touching the session or writing usage.
      greeting?.cancel();
      this.#finishing = providers.speech.close().catch(() => undefined);
      ctx.shutdown('session_not_active');
      return;
    }
    // One of several ways the call ends (agents-js does not always run these; see finish()).
    ctx.addShutdownCallback(() => this.finish('shutdown'));
    // Renew from now on: connecting and loading history can take longer than a short lease on a busy host.
    this.#startLeaseRenewal();
    reportObservation({ kind: 'call_started' });
    setup.mark('activated');

    let history: llm.ChatContext;
    try {
      [history] = await Promise.all([this.#loadHistory().finally(() => setup.mark('history')), connected]);
    } catch (error) {
      greeting?.cancel();
      throw error;
    }

    const sttMeter = new SttAudioMeter();
    const meter = this.#meter;
    const recorder = new UsageRecorder({
      db: this.#db,
      queue: this.#queue,
      meter,
      call: this.#call,
      startedAtMs: this.#startedAtMs,
    });
    this.#recorder = recorder;

    const agent = new VoiceAgent({
      instructions: this.#config.systemPrompt,
      chatCtx: history,
      onSttAudio: (frame) => meter.addSttAudio(sttMeter.push(frame)),
    });
    const session = buildAgentSession({ config: this.#config, vad, providers });
    this.#session = session;
    this.#wireSessionEvents(session, meter);

    await session.start({ agent, room: ctx.room, inputOptions: CALLER_AUDIO_INPUT });
    setup.mark('session');
    recorder.startCheckpoints(this.#config.usageCheckpointSeconds);
    this.#startTimers(session);
    if (greeting) await this.#sayGreeting(session, greeting);
    setup.mark('greeting');
    this.#logger.info(
      {
        historyItems: history.items.length,
        msSinceJobStart: Date.now() - this.#startedAtMs,
        setup: setup.steps,
      },
      'call started',
    );
  }

  /**
   * Plays the prefetched greeting (its engine reported its usage). If its synthesis failed or has not produced
   * audio in time, the session synthesises it itself (its retries and failover apply).
   */
  async #sayGreeting(session: voice.AgentSession, greeting: PrefetchedSpeech) {
    const audio = await greeting.audio(GREETING_PREFETCH_WAIT_MS);
    if (!audio) {
      this.#logger.warn('greeting not synthesised ahead; synthesising it now');
      session.say(greeting.text, { allowInterruptions: true });
      return;
    }
    session.say(greeting.text, { audio, allowInterruptions: true });
    void greeting.settled().then(() => {
      if (greeting.failure)
        this.#logger.warn({ err: errorMessage(greeting.failure) }, 'greeting synthesis broke off');
    });
  }

  /** activate_voice_session: false means the session is over (ended/expired) and the job must not run. */
  async #activate(): Promise<boolean> {
    const deadline = Date.now() + 5_000;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await activateVoiceSession(this.#db, this.#call.sessionId, this.#config.leaseSeconds);
        if (!result.ok) {
          this.#logger.warn(
            { status: result.status, reason: result.reason },
            'session not activatable; leaving',
          );
        }
        return result.ok;
      } catch (error) {
        if (Date.now() > deadline) {
          // The database is unreachable. The token service granted this call, so take it and keep trying to
          // activate in the background rather than dropping a paying caller.
          this.#logger.error({ err: errorMessage(error), attempt }, 'activation failed; continuing the call');
          this.#queue.enqueue({
            key: `activate:${this.#call.sessionId}`,
            kind: 'activate_session',
            run: async () => {
              await activateVoiceSession(this.#db, this.#call.sessionId, this.#config.leaseSeconds);
            },
          });
          return true;
        }
        await new Promise((r) => setTimeout(r, 300 * attempt));
      }
    }
  }

  async #loadHistory(): Promise<llm.ChatContext> {
    try {
      const controller = new AbortController();
      const rows = await withTimeout(
        loadRecentMessages(
          this.#db,
          this.#call.conversationId,
          this.#config.historyMessages,
          controller.signal,
        ),
        HISTORY_TIMEOUT_MS,
      );
      if (rows === undefined) {
        controller.abort();
        this.#logger.warn('conversation history not loaded in time; starting without it');
        return historyToChatContext([]);
      }
      return historyToChatContext(rows);
    } catch (error) {
      this.#logger.warn(
        { err: errorMessage(error) },
        'conversation history unavailable; starting without it',
      );
      return historyToChatContext([]);
    }
  }

  #wireSessionEvents(session: voice.AgentSession, meter: UsageMeter): void {
    session.on(voice.AgentSessionEventTypes.MetricsCollected, (ev) => meter.onMetrics(ev.metrics));

    session.on(voice.AgentSessionEventTypes.ConversationItemAdded, (ev) => {
      const item = ev.item;
      if (item.type !== 'message' || isHistoryItem(item.id)) return;
      // Which engines spoke a reply, and how many of its sentences their transcript contradicts.
      const speech = item.role === 'assistant' ? this.#speechLedger.take(item.textContent ?? '') : undefined;
      const turn = toMessageRow(this.#call, item, this.#clock.next(item.createdAt), speech ? { speech } : {});
      if (!turn) return;
      // An interrupted reply arrives with the text that was heard, or not at all when none was (patched
      // framework, issue 17); a user utterance split by the turn detector is joined into one row.
      const row = this.#userTurns.add(turn);
      this.#queue.enqueue({
        key: `message:${row.id}`,
        kind: `message_${row.role}`,
        run: () =>
          upsertMessage(this.#db, row).catch((error: unknown) => {
            if (error instanceof ConversationGoneError) this.#conversationGone();
            throw error;
          }),
      });
      if (item.role === 'user') {
        // The STT and end-of-turn parts are measured on the user's turn; report them with the reply they led to.
        this.#userTurnLatency = latencyOf(item.metrics);
      } else if (item.role === 'assistant') {
        // A checkpoint per reply (besides the periodic ones): a killed job loses at most the turn in flight.
        this.#recorder?.checkpoint();
        const latency = { ...this.#userTurnLatency, ...latencyOf(item.metrics) };
        this.#userTurnLatency = {};
        if (latency.e2e !== undefined) {
          this.#logger.info({ latency, interrupted: item.interrupted }, 'turn latency');
        }
        reportObservation({ kind: 'turn', ...latency, interrupted: item.interrupted });
      }
    });

    // A reply paused by caller speech (INTERRUPTION_RESUME_AFTER_MS) that the caller did not interrupt after all.
    session.on(voice.AgentSessionEventTypes.AgentFalseInterruption, (ev) => {
      this.#logger.info({ resumed: ev.resumed }, 'reply paused by caller speech short of an interruption');
    });

    session.on(voice.AgentSessionEventTypes.UserStateChanged, (ev) => {
      if (ev.newState === 'away') this.#timers?.userAway(this.#config.idleTimeoutSeconds);
      else if (ev.newState === 'speaking') this.#timers?.userBack();
    });

    session.on(voice.AgentSessionEventTypes.Error, (ev) => {
      const err = ev.error as { type?: string; recoverable?: boolean; error?: unknown };
      const provider =
        err.type === 'llm_error'
          ? 'llm'
          : err.type === 'tts_error'
            ? 'tts'
            : err.type === 'stt_error'
              ? 'stt'
              : undefined;
      if (provider)
        reportObservation({ kind: 'provider_error', provider, recoverable: err.recoverable === true });
      this.#logger.warn(
        { type: err.type, recoverable: err.recoverable, err: errorMessage(err.error) },
        'pipeline error',
      );
      if (provider === 'llm' && err.recoverable === false) this.#llmFailures += 1;
    });

    // Retries are exhausted: the caller hears an apology instead of silence, and the next turn starts fresh. It is
    // spoken when the reply that failed ends, not when the error arrives: the failed request is often the preemptive
    // one, started at a transcript before the end-of-turn model commits the turn (up to TURN_MAX_ENDPOINTING_MS
    // later). Said at once, the apology was cut after two words by that commit, and the failed reply then played
    // nothing. A preemptive reply that is thrown away (the transcript changed) is never scheduled and owes nothing.
    session.on(voice.AgentSessionEventTypes.SpeechCreated, (ev) => {
      if (ev.source !== 'generate_reply') return;
      const failuresBefore = this.#llmFailures;
      const reply = ev.speechHandle;
      void reply.waitForPlayout().then(
        () => {
          const failed = this.#llmFailures > failuresBefore;
          const spoke = reply.chatItems.some((item) => item.type === 'message' && item.role === 'assistant');
          if (!failed || spoke || !reply.scheduled || reply.interrupted || this.#wrappingUp) return;
          session.say(PHRASES.apology, { allowInterruptions: true });
        },
        () => undefined,
      );
    });

    session.on(voice.AgentSessionEventTypes.Close, (ev) => {
      const reason: EndReason =
        ev.reason === voice.CloseReason.PARTICIPANT_DISCONNECTED
          ? 'caller_left'
          : ev.reason === voice.CloseReason.ERROR
            ? 'error'
            : 'shutdown';
      void this.finish(reason);
    });
  }

  #startLeaseRenewal(): void {
    const everyMs = Math.max(1_000, (this.#config.leaseSeconds * 1000) / 3);
    this.#leaseTimer = setInterval(() => {
      renewVoiceSessionLease(this.#db, this.#call.sessionId, this.#config.leaseSeconds)
        .then((alive) => {
          if (!alive) void this.#endedElsewhere();
        })
        // Database down: the lease runs on; the next renewal (a third of a lease later) tries again.
        .catch((error) => this.#logger.warn({ err: errorMessage(error) }, 'lease renewal failed'));
    }, everyMs);
    this.#leaseTimer.unref();
  }

  /** The session ended outside this job (webhook, kill switch, deleted conversation): end the call to match. */
  async #endedElsewhere(): Promise<void> {
    const reason = await voiceSessionEndReason(this.#db, this.#call.sessionId).catch(() => undefined);
    this.#logger.warn({ endReason: reason }, 'session ended elsewhere; ending the call');
    if (reason === 'conversation_deleted') this.#conversationGone();
    else void this.finish('shutdown');
  }

  /** The caller deleted this conversation: say so and hang up (its turns have nowhere to be saved). */
  #conversationGone(): void {
    if (this.#wrappingUp) return;
    this.#logger.info('conversation deleted during the call; ending it');
    if (this.#session)
      void this.#sayThenFinish(this.#session, PHRASES.conversationDeleted, 'conversation_deleted');
    else void this.finish('conversation_deleted');
  }

  #startTimers(session: voice.AgentSession): void {
    this.#timers = new CallTimers({
      onGoodbyeDue: () => void this.#sayThenFinish(session, PHRASES.goodbyeMaxDuration, 'max_duration'),
      onMaxDuration: () => void this.finish('max_duration'),
      onIdlePrompt: () => {
        if (!this.#wrappingUp) session.say(PHRASES.idlePrompt, { allowInterruptions: true });
      },
      onIdleTimeout: () => void this.#sayThenFinish(session, PHRASES.idleGoodbye, 'idle'),
    });
    this.#timers.startMaxDuration(this.#meta.max_call_seconds, this.#config.goodbyeLeadSeconds);
  }

  async #sayThenFinish(session: voice.AgentSession, text: string, reason: EndReason): Promise<void> {
    if (this.#wrappingUp) return;
    this.#wrappingUp = true;
    try {
      session.interrupt({ force: true });
      const handle = session.say(text, { allowInterruptions: false });
      await withTimeout(handle.waitForPlayout(), 15_000);
    } catch (error) {
      this.#logger.warn({ err: errorMessage(error) }, 'farewell not spoken');
    }
    await this.finish(reason);
  }

  /** Ends the call once: final usage, end_voice_session, flush the writes, close the room where we end it. */
  finish(reason: EndReason): Promise<void> {
    this.#finishing ??= this.#finish(reason);
    return this.#finishing;
  }

  async #finish(reason: EndReason): Promise<void> {
    this.#wrappingUp = true;
    this.#timers?.stop();
    if (this.#leaseTimer) clearInterval(this.#leaseTimer);
    const durationSeconds = (Date.now() - this.#startedAtMs) / 1000;
    this.#logger.info({ reason, durationSeconds: Math.round(durationSeconds) }, 'call ending');

    // Close the pipeline first so the last turn's metrics (e.g. an interrupted reply) are in the final usage.
    if (this.#session) {
      try {
        await withTimeout(this.#session.close(), 5_000);
      } catch (error) {
        this.#logger.warn({ err: errorMessage(error) }, 'session close failed');
      }
    }
    // The speech engines last (the Realtime connection): usage of responses cancelled at the end has arrived.
    try {
      await withTimeout(this.#providers?.speech.close() ?? Promise.resolve(), 3_000);
    } catch (error) {
      this.#logger.warn({ err: errorMessage(error) }, 'speech close failed');
    }

    this.#recorder?.finish(reason);
    this.#queue.enqueue({
      key: `end:${this.#call.sessionId}`,
      kind: 'end_session',
      run: async () => {
        await endVoiceSession(this.#db, this.#call.sessionId, reason);
      },
    });
    const snapshot = this.#meter.snapshot();
    reportObservation({ kind: 'call_ended', reason, durationSeconds });
    if (snapshot) {
      reportObservation({
        kind: 'usage',
        sttSeconds: snapshot.stt.audioSeconds,
        llmInputTokens: snapshot.llm.inputTokens,
        llmOutputTokens: snapshot.llm.outputTokens,
        llmCacheReadTokens: snapshot.llm.cacheReadTokens,
        llmCacheCreationTokens: snapshot.llm.cacheCreationTokens,
        ttsCharacters: snapshot.tts.characters,
        costUsd: snapshot.estimatedCost,
      });
      this.#logger.info(
        {
          sttSeconds: snapshot.stt.audioSeconds,
          llmTokens: snapshot.tokensUsed,
          ttsCharacters: snapshot.tts.characters,
          costUsd: snapshot.estimatedCost,
        },
        'call usage',
      );
    }
    await this.#queue.flush(FLUSH_TIMEOUT_MS);
    this.#queue.close();

    // When we end the call (not the caller), close the room so the caller is disconnected too.
    if (
      reason === 'max_duration' ||
      reason === 'idle' ||
      reason === 'error' ||
      reason === 'conversation_deleted'
    ) {
      try {
        await withTimeout(this.#ctx.deleteRoom(), 3_000);
      } catch (error) {
        this.#logger.warn({ err: errorMessage(error) }, 'room not deleted');
      }
    }
    this.#ctx.shutdown(reason);
  }
}
