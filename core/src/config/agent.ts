import { z } from 'zod';
import { ConfigError, envBoolean, envList, envPort, envPositiveInt, envUrl, parseEnv } from '../env.ts';
import type { ModelRole } from '../model-calendar.ts';
import { checkModel, type ModelCheck, utcToday } from '../model-check.ts';
import { livekitServerEnv, loggingEnv, supabaseServerEnv } from './shared.ts';

const DEFAULT_SYSTEM_PROMPT =
  'You are Claude, talking with the user in a live voice call that continues their text chat. ' +
  'Answer in short, natural spoken sentences: no lists, no markdown, no emoji, no code blocks. ' +
  'Keep most replies to one to three sentences unless the user asks for more. ' +
  'If you did not catch something, say so briefly and ask the user to repeat it.';

/**
 * The speech engines the agent can use, by the name TTS_PROVIDERS lists them under:
 * - `openai-realtime`: OpenAI's Realtime API (OPENAI_REALTIME_MODEL), each sentence read in an out-of-band response;
 * - `deepgram`: Deepgram Aura through @livekit/agents-plugin-deepgram (DEEPGRAM_TTS_MODEL, the STT's key);
 * - `openai-speech`: OpenAI `/v1/audio/speech` (TTS_MODEL: tts-1, tts-1-hd, gpt-4o-mini-tts), whose models OpenAI
 *   shuts down on 2027-01-06.
 */
export const SPEECH_PROVIDERS = ['openai-realtime', 'deepgram', 'openai-speech'] as const;
export type SpeechProvider = (typeof SPEECH_PROVIDERS)[number];

const speechProviderList = envList.pipe(
  z
    .array(z.enum(SPEECH_PROVIDERS, { error: `each entry must be one of ${SPEECH_PROVIDERS.join(', ')}` }))
    .min(1, 'must name at least one speech engine')
    .refine((list) => new Set(list).size === list.length, 'names an engine twice'),
);

/**
 * The agent worker's environment. Provider base URLs are optional: unset means the provider's public endpoint;
 * `npm start` without keys points them at the local stand-ins (devstack) and says so.
 */
export const agentEnv = z.object({
  ...loggingEnv.shape,
  ...supabaseServerEnv.shape,
  ...livekitServerEnv.shape,

  /** Explicit dispatch: the token service dispatches jobs to this name. Must match the token service's. */
  AGENT_NAME: z.string().min(1).default('voice-agent'),
  /** Port of the worker's own health server (LiveKit agents' /, /worker). 0 = any free port. */
  AGENT_HEALTH_PORT: envPort.default(8081),
  /** Port of the Prometheus /metrics server (per-turn latency, usage). 0 = any free port. */
  AGENT_METRICS_PORT: envPort.default(9464),
  /** Address the health and metrics servers bind to. */
  AGENT_HTTP_HOST: z.string().min(1).default('0.0.0.0'),
  /**
   * Worker CPU load (0..1) above which it stops taking new calls, so LiveKit dispatches them to another worker.
   * A value above 1 disables the worker's own check, but livekit-server still sends no job to a worker whose load
   * is at or above its `agents.target_load` (0.7 by default): on shared hosts use AGENT_MAX_CONCURRENT_CALLS.
   */
  AGENT_LOAD_THRESHOLD: z.coerce.number().positive().default(0.7),
  /**
   * When set, the worker's load is its share of this many concurrent calls instead of its CPU use: predictable on
   * shared hosts where other processes' CPU would turn calls away. The worker takes exactly this many calls
   * (AGENT_LOAD_THRESHOLD then does not apply; the load is scaled to livekit-server's default target load, 0.7).
   */
  AGENT_MAX_CONCURRENT_CALLS: envPositiveInt.optional(),
  /** Job processes kept warm (VAD loaded) for instant pickup. */
  AGENT_IDLE_PROCESSES: z.coerce.number().int().min(0).default(2),
  /**
   * Nice level (0..19) a job process starts at, until it is given a call. Starting one costs seconds of CPU
   * (imports, TypeScript, the VAD model) and the pool starts a replacement for every call it hands out: at normal
   * priority that work starves the calls in progress on a small host. 0 = off. Raising the priority back needs root
   * or CAP_SYS_NICE: without it (the image runs as a non-root user) job processes start at normal priority, since
   * the call itself would otherwise run niced. Measured on 2 cores (bench setup, 10 calls, two A/B pairs): greeting
   * p50 1538/1607 ms at 0, 1336/1413 ms at 10.
   */
  AGENT_JOB_START_NICE: z.coerce.number().int().min(0).max(19).default(10),
  /**
   * How job processes load the TypeScript sources. `auto`: with Node's own type stripping where the Node running the
   * worker has it (22.18+, 24: the image), else with tsx like the worker; `tsx`: always tsx. tsx's loader costs
   * each job process ~33 MiB and ~1 s of start-up (bench/README.md, cost per call).
   */
  AGENT_JOB_LOADER: z.enum(['auto', 'tsx']).default('auto'),
  /**
   * Largest V8 semi-space of a job process, MiB (`--max-semi-space-size`); 0 = V8's default. V8 13 (Node 24) lets
   * the young generation grow to 3 × 32 MiB, and a call's audio path allocates enough to fill it: each job process
   * kept ~50 MiB more than on Node 20. A call's garbage is short-lived, so a small young generation costs
   * more frequent but cheaper scavenges (bench/README.md, cost per call).
   */
  AGENT_JOB_SEMI_SPACE_MB: z.coerce.number().int().min(0).max(64).default(4),

  DEEPGRAM_API_KEY: z.string().min(1),
  /** Deepgram base URL (ws:// or wss://). Unset = Deepgram's public API. */
  DEEPGRAM_BASE_URL: z
    .string()
    .regex(/^(wss?|https?):\/\/.+/, 'must be a ws(s):// or http(s):// URL')
    .optional(),
  STT_MODEL: z.string().min(1).default('nova-3'),
  STT_LANGUAGE: z.string().min(2).default('en-US'),
  /**
   * Deepgram `endpointing` (ms of silence that ends an utterance with speech_final; 0 = off). It only shapes
   * Deepgram's finals: the turn is decided by TURN_DETECTION. Chosen by measurement (bench/README.md, turns).
   */
  STT_ENDPOINTING_MS: z.coerce.number().int().min(0).max(10_000).default(25),

  /**
   * How the end of the caller's turn is decided: `model` = LiveKit's local audio end-of-turn model
   * (turn-detector-v1-mini, in-process, offline) after VAD silence; `vad` = silence alone.
   */
  TURN_DETECTION: z.enum(['model', 'vad']).default('model'),
  /**
   * End-of-turn probability below which the model's verdict is "not finished" (→ TURN_MAX_ENDPOINTING_MS). Unset =
   * LiveKit's calibration for the language (English 0.36), made on human speech.
   */
  TURN_EOT_THRESHOLD: z.coerce.number().gt(0).lt(1).optional(),
  /** Silence after which the turn ends when the model is confident it ended (with `vad`: always). */
  TURN_MIN_ENDPOINTING_MS: envPositiveInt.default(400),
  /** Silence after which the turn ends when the model thinks the caller is not done (a pause mid-sentence). */
  TURN_MAX_ENDPOINTING_MS: envPositiveInt.default(1600),
  /**
   * When a final transcript starts a preemptive Claude request (and its speech). `model`: once the end-of-turn
   * model's prediction for the pause says the caller finished, or, when it says not, once the pause nears
   * TURN_MAX_ENDPOINTING_MS; a pause mid-sentence then costs no request, and every reply waits for the
   * prediction (its inference, ~55 ms after the final). `eager`: at every final at once (~40–70 ms faster, one
   * request per pause).
   * Only with TURN_DETECTION=model. Chosen by measurement (bench/README.md, turns).
   */
  TURN_PREEMPTIVE: z.enum(['model', 'eager']).default('model'),
  /**
   * Words the caller must say while the agent speaks before it stops: 2 lets backchannels ("mm-hm", "yeah",
   * "okay") pass without stopping the reply, and without being answered. 0 = any speech interrupts.
   */
  INTERRUPTION_MIN_WORDS: z.coerce.number().int().min(0).max(10).default(2),
  /**
   * Caller speech (ms) while the agent speaks before it pauses (with INTERRUPTION_RESUME_AFTER_MS) or stops (past
   * INTERRUPTION_MIN_WORDS).
   */
  INTERRUPTION_MIN_DURATION_MS: envPositiveInt.default(200),
  /**
   * Pause first: caller speech of INTERRUPTION_MIN_DURATION_MS pauses the reply at once; it stops for good once the
   * caller's words reach INTERRUPTION_MIN_WORDS, and resumes where it paused this long after the caller went quiet
   * short of them (a backchannel, a cough). 0 = no pause: the reply plays on until the words are there.
   */
  INTERRUPTION_RESUME_AFTER_MS: z.coerce.number().int().min(0).max(5_000).default(300),

  ANTHROPIC_API_KEY: z.string().min(1),
  /** Anthropic API base URL. Unset = https://api.anthropic.com. */
  ANTHROPIC_BASE_URL: envUrl.optional(),
  CLAUDE_MODEL: z.string().min(1).default('claude-haiku-4-5'),
  /**
   * Optional second Claude model, used for a reply when CLAUDE_MODEL answers 404 (retired or unknown) or stays
   * overloaded (529) after a retry. Checked against the calendar and the price table like CLAUDE_MODEL.
   */
  CLAUDE_FALLBACK_MODEL: z.string().min(1).optional(),
  /** Upper bound on one spoken reply's tokens. */
  CLAUDE_MAX_TOKENS: envPositiveInt.default(400),

  /**
   * Speech engines in failover order (comma-separated, see SPEECH_PROVIDERS). The first speaks; when it fails or
   * stalls, the next one speaks the call's next sentence, and the first takes over again once it answers a
   * recovery check. The default is what still works after OpenAI's /v1/audio/speech models shut down
   * (2027-01-06): the Realtime API, then Deepgram Aura.
   */
  TTS_PROVIDERS: speechProviderList.default(['openai-realtime', 'deepgram']),
  /** Required when TTS_PROVIDERS names an OpenAI engine. */
  OPENAI_API_KEY: z.string().min(1).optional(),
  /** OpenAI API base URL including /v1 (the openai-speech engine). Unset = https://api.openai.com/v1. */
  OPENAI_BASE_URL: envUrl.optional(),
  /**
   * Base URL (https://…/v1) of the Realtime API; the engine connects to wss://…/v1/realtime. Unset = OPENAI_BASE_URL,
   * or https://api.openai.com/v1.
   */
  OPENAI_REALTIME_BASE_URL: envUrl.optional(),
  /** The Realtime model that reads the replies (OpenAI's named replacement for the /v1/audio/speech models). */
  OPENAI_REALTIME_MODEL: z.string().min(1).default('gpt-realtime-2.1-mini'),
  /** Realtime voice: alloy, ash, ballad, coral, echo, sage, shimmer, verse, marin, cedar (OpenAI recommends marin, cedar). */
  OPENAI_REALTIME_VOICE: z.string().min(1).default('marin'),
  /** The openai-speech engine (/v1/audio/speech): model and voice. */
  TTS_MODEL: z.string().min(1).default('tts-1'),
  TTS_VOICE: z.string().min(1).default('alloy'),
  /** The deepgram engine's Aura voice model (Aura-2 names are aura-2-<voice>-<language>). */
  DEEPGRAM_TTS_MODEL: z
    .string()
    .regex(/^aura-[a-z0-9-]+$/, 'must be a Deepgram Aura model, e.g. aura-2-thalia-en')
    .default('aura-2-thalia-en'),
  /**
   * A sentence's first audio must arrive within this long; otherwise its engine counts as stalled, the sentence is
   * spoken by the next engine in TTS_PROVIDERS, and the stalled one is checked again in the background.
   */
  TTS_FIRST_AUDIO_TIMEOUT_MS: envPositiveInt.default(2_500),
  /** How often an engine that failed is checked (a short test sentence) until it works again. */
  TTS_RECOVERY_INTERVAL_SECONDS: envPositiveInt.default(10),

  /**
   * "Today" for the providers' calendar (YYYY-MM-DD), instead of the clock: what a test sets to see the agent
   * refuse or warn about a model's shutdown date, or an operator to ask "will this config still start on …?".
   */
  AGENT_MODEL_CALENDAR_DATE: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date, YYYY-MM-DD')
    .refine((v) => !Number.isNaN(Date.parse(`${v}T00:00:00Z`)), 'must be a real date')
    .optional(),
  /**
   * on: at start and every 10 minutes, ask each provider whether the configured models exist (Anthropic
   * models.retrieve, OpenAI GET /v1/models/{id}); while one does not, the worker takes no calls and /readyz says
   * why. off: only the calendar is checked (no request).
   */
  AGENT_MODEL_CHECK: z.enum(['on', 'off']).default('on'),

  /** The system prompt for every call (spoken style). */
  AGENT_SYSTEM_PROMPT: z.string().min(1).default(DEFAULT_SYSTEM_PROMPT),
  /** What the agent says first. */
  AGENT_GREETING: z.string().min(1).default('Hi! I am listening. What would you like to talk about?'),
  /** Seconds a session lease lasts; renewed every third of it while the call lives. */
  AGENT_LEASE_SECONDS: envPositiveInt.default(60),
  /** Caller silent this long → a spoken prompt; silent as long again → the call ends (reason idle). */
  AGENT_IDLE_TIMEOUT_SECONDS: envPositiveInt.default(45),
  /** The spoken goodbye starts this many seconds before the call's max duration. */
  AGENT_GOODBYE_LEAD_SECONDS: envPositiveInt.default(10),
  /** Recent conversation messages loaded into the chat context when a call starts. */
  AGENT_HISTORY_MESSAGES: z.coerce.number().int().min(0).default(20),
  /** Seconds between usage checkpoints written during a call. */
  AGENT_USAGE_CHECKPOINT_SECONDS: envPositiveInt.default(15),
  /** Log the Prometheus ingest of job processes and more pipeline detail. */
  AGENT_DEBUG: envBoolean.default(false),
});
export type AgentEnv = z.infer<typeof agentEnv>;

export interface AgentConfig {
  agentName: string;
  logLevel: AgentEnv['LOG_LEVEL'];
  logSensitive: boolean;
  debug: boolean;
  http: { host: string; healthPort: number; metricsPort: number };
  idleProcesses: number;
  jobStartNice: number;
  jobLoader: AgentEnv['AGENT_JOB_LOADER'];
  jobSemiSpaceMb: number;
  loadThreshold: number;
  maxConcurrentCalls: number | undefined;
  supabase: { url: string; serviceRoleKey: string };
  livekit: { url: string; apiKey: string; apiSecret: string };
  deepgram: {
    apiKey: string;
    baseUrl: string | undefined;
    model: string;
    language: string;
    /** Deepgram endpointing in ms; 0 = off. */
    endpointingMs: number;
  };
  turns: {
    detection: 'model' | 'vad';
    /** Unset = the model's own calibration per language. */
    eotThreshold: number | undefined;
    minEndpointingMs: number;
    maxEndpointingMs: number;
    /** When a final starts a preemptive request: gated on the end-of-turn model, or at once. */
    preemptive: 'model' | 'eager';
    interruptionMinWords: number;
    interruptionMinDurationMs: number;
    /** 0 = no pause before the words gate (INTERRUPTION_RESUME_AFTER_MS). */
    interruptionResumeAfterMs: number;
  };
  anthropic: {
    apiKey: string;
    baseUrl: string | undefined;
    model: string;
    /** Used when `model` answers 404 or stays overloaded (CLAUDE_FALLBACK_MODEL). */
    fallbackModel: string | undefined;
    maxTokens: number;
  };
  openai: {
    apiKey: string;
    baseUrl: string | undefined;
    realtimeBaseUrl: string | undefined;
    realtimeModel: string;
    realtimeVoice: string;
    ttsModel: string;
    ttsVoice: string;
  };
  speech: {
    /** Engines in failover order. */
    providers: SpeechProvider[];
    deepgramModel: string;
    firstAudioTimeoutMs: number;
    recoveryIntervalMs: number;
  };
  models: {
    /** The calendar's "today" (AGENT_MODEL_CALENDAR_DATE, or the UTC date at start). */
    calendarDate: string;
    /** AGENT_MODEL_CALENDAR_DATE is set: the date does not move while the worker runs. */
    calendarDateFixed: boolean;
    /** Every configured model in use and how it stands on the calendar (refusals never get here). */
    checks: Array<Extract<ModelCheck, { status: 'ok' | 'warn' }>>;
    /** Ask the providers whether the models exist (AGENT_MODEL_CHECK). */
    providerCheck: boolean;
  };
  systemPrompt: string;
  greeting: string;
  leaseSeconds: number;
  idleTimeoutSeconds: number;
  goodbyeLeadSeconds: number;
  historyMessages: number;
  usageCheckpointSeconds: number;
}

/** The models a parsed config uses, with the variable each comes from: speech models only for listed engines. */
export function configuredModels(e: AgentEnv): Array<{ model: string; role: ModelRole; variable: string }> {
  const models: Array<{ model: string; role: ModelRole; variable: string }> = [
    { model: e.STT_MODEL, role: 'stt', variable: 'STT_MODEL' },
    { model: e.CLAUDE_MODEL, role: 'llm', variable: 'CLAUDE_MODEL' },
  ];
  if (e.CLAUDE_FALLBACK_MODEL)
    models.push({ model: e.CLAUDE_FALLBACK_MODEL, role: 'llm', variable: 'CLAUDE_FALLBACK_MODEL' });
  for (const provider of e.TTS_PROVIDERS) {
    if (provider === 'openai-realtime')
      models.push({
        model: e.OPENAI_REALTIME_MODEL,
        role: 'openai-realtime',
        variable: 'OPENAI_REALTIME_MODEL',
      });
    else if (provider === 'deepgram')
      models.push({ model: e.DEEPGRAM_TTS_MODEL, role: 'deepgram-speech', variable: 'DEEPGRAM_TTS_MODEL' });
    else models.push({ model: e.TTS_MODEL, role: 'openai-speech', variable: 'TTS_MODEL' });
  }
  return models;
}

/**
 * Loads the agent's configuration, and refuses to start with a model that is past its shutdown date, unknown to
 * the providers' calendar, or without a price (each problem names its variable and what to set instead). Models
 * within 60 days of their shutdown pass, as `models.checks` entries with status `warn` for the caller to report.
 */
export function loadAgentConfig(
  env: NodeJS.ProcessEnv = process.env,
  opts: {
    /**
     * refuse (default): throw for a model past its shutdown, unknown or unpriced. worker-checked: a job process,
     * whose worker checked the models at its start and keeps checking them (it takes no calls while one is unusable):
     * a worker that runs across a shutdown date must not have its idle job processes crash in a loop.
     */
    models?: 'refuse' | 'worker-checked';
  } = {},
): AgentConfig {
  const e = parseEnv('agent', agentEnv, env);
  const calendarDate = e.AGENT_MODEL_CALENDAR_DATE ?? utcToday();
  const checks = configuredModels(e).map((m) => checkModel({ ...m, today: calendarDate }));
  const refused = checks.filter((c) => c.status === 'refuse');
  if (refused.length > 0 && opts.models !== 'worker-checked') {
    throw new ConfigError(
      'agent',
      refused.map((c) => ({ variable: c.variable, message: c.message })),
    );
  }
  if (e.CLAUDE_FALLBACK_MODEL && e.CLAUDE_FALLBACK_MODEL === e.CLAUDE_MODEL) {
    throw new ConfigError('agent', [
      {
        variable: 'CLAUDE_FALLBACK_MODEL',
        message: 'is CLAUDE_MODEL itself: name another model, or unset it',
      },
    ]);
  }
  const usesOpenAI = e.TTS_PROVIDERS.some((p) => p.startsWith('openai-'));
  if (usesOpenAI && !e.OPENAI_API_KEY) {
    throw new ConfigError('agent', [
      {
        variable: 'OPENAI_API_KEY',
        message: `is required when TTS_PROVIDERS names an OpenAI engine (${e.TTS_PROVIDERS.join(',')})`,
      },
    ]);
  }
  return {
    agentName: e.AGENT_NAME,
    logLevel: e.LOG_LEVEL,
    logSensitive: e.LOG_SENSITIVE,
    debug: e.AGENT_DEBUG,
    http: { host: e.AGENT_HTTP_HOST, healthPort: e.AGENT_HEALTH_PORT, metricsPort: e.AGENT_METRICS_PORT },
    idleProcesses: e.AGENT_IDLE_PROCESSES,
    jobStartNice: e.AGENT_JOB_START_NICE,
    jobLoader: e.AGENT_JOB_LOADER,
    jobSemiSpaceMb: e.AGENT_JOB_SEMI_SPACE_MB,
    loadThreshold: e.AGENT_LOAD_THRESHOLD,
    maxConcurrentCalls: e.AGENT_MAX_CONCURRENT_CALLS,
    supabase: { url: e.SUPABASE_URL, serviceRoleKey: e.SUPABASE_SERVICE_ROLE_KEY },
    livekit: { url: e.LIVEKIT_URL, apiKey: e.LIVEKIT_API_KEY, apiSecret: e.LIVEKIT_API_SECRET },
    deepgram: {
      apiKey: e.DEEPGRAM_API_KEY,
      baseUrl: e.DEEPGRAM_BASE_URL,
      model: e.STT_MODEL,
      language: e.STT_LANGUAGE,
      endpointingMs: e.STT_ENDPOINTING_MS,
    },
    turns: {
      detection: e.TURN_DETECTION,
      eotThreshold: e.TURN_EOT_THRESHOLD,
      minEndpointingMs: e.TURN_MIN_ENDPOINTING_MS,
      maxEndpointingMs: Math.max(e.TURN_MAX_ENDPOINTING_MS, e.TURN_MIN_ENDPOINTING_MS),
      preemptive: e.TURN_PREEMPTIVE,
      interruptionMinWords: e.INTERRUPTION_MIN_WORDS,
      interruptionMinDurationMs: e.INTERRUPTION_MIN_DURATION_MS,
      interruptionResumeAfterMs: e.INTERRUPTION_RESUME_AFTER_MS,
    },
    anthropic: {
      apiKey: e.ANTHROPIC_API_KEY,
      baseUrl: e.ANTHROPIC_BASE_URL,
      model: e.CLAUDE_MODEL,
      fallbackModel: e.CLAUDE_FALLBACK_MODEL,
      maxTokens: e.CLAUDE_MAX_TOKENS,
    },
    openai: {
      apiKey: e.OPENAI_API_KEY ?? '',
      baseUrl: e.OPENAI_BASE_URL,
      realtimeBaseUrl: e.OPENAI_REALTIME_BASE_URL ?? e.OPENAI_BASE_URL,
      realtimeModel: e.OPENAI_REALTIME_MODEL,
      realtimeVoice: e.OPENAI_REALTIME_VOICE,
      ttsModel: e.TTS_MODEL,
      ttsVoice: e.TTS_VOICE,
    },
    speech: {
      providers: e.TTS_PROVIDERS,
      deepgramModel: e.DEEPGRAM_TTS_MODEL,
      firstAudioTimeoutMs: e.TTS_FIRST_AUDIO_TIMEOUT_MS,
      recoveryIntervalMs: e.TTS_RECOVERY_INTERVAL_SECONDS * 1000,
    },
    models: {
      calendarDate,
      calendarDateFixed: e.AGENT_MODEL_CALENDAR_DATE !== undefined,
      checks: checks.filter(
        (c): c is Extract<ModelCheck, { status: 'ok' | 'warn' }> => c.status !== 'refuse',
      ),
      providerCheck: e.AGENT_MODEL_CHECK === 'on',
    },
    systemPrompt: e.AGENT_SYSTEM_PROMPT,
    greeting: e.AGENT_GREETING,
    leaseSeconds: e.AGENT_LEASE_SECONDS,
    idleTimeoutSeconds: e.AGENT_IDLE_TIMEOUT_SECONDS,
    goodbyeLeadSeconds: e.AGENT_GOODBYE_LEAD_SECONDS,
    historyMessages: e.AGENT_HISTORY_MESSAGES,
    usageCheckpointSeconds: e.AGENT_USAGE_CHECKPOINT_SECONDS,
  };
}
