/**
 * The providers' calendar: every model id the agent can be configured with, what it is used for, and when its
 * provider deprecates and shuts it down. A product tested against stand-ins would not notice a provider retiring a
 * model: the agent checks its configured models against this table at start (model-check.ts), and the stand-ins
 * refuse what the real services refuse by the same dates.
 *
 * Like the prices (pricing.ts, keyed by these ids), every entry names where its dates come from and when they
 * were read. Re-check before relying on a date: providers move them (Anthropic gives at least 60 days' notice).
 * A model that is not listed here is refused at start, never guessed at.
 */

/** What a model id configures: which variable holds it, and which API serves it. */
export type ModelRole = 'llm' | 'stt' | 'openai-speech' | 'openai-realtime' | 'deepgram-speech';
export type ModelVendor = 'anthropic' | 'openai' | 'deepgram';

export interface CalendarSource {
  url: string;
  /** When the dates were read from `url` (YYYY-MM-DD). */
  checked: string;
}

export interface CalendarEntry {
  /** The id as configured (dated snapshots and `-latest` share their family's entry, see calendarKey). */
  id: string;
  vendor: ModelVendor;
  role: ModelRole;
  /** When the provider announced the end (YYYY-MM-DD), if it has. */
  deprecated?: string;
  /** The first day requests to the model fail (YYYY-MM-DD), if the provider has named one. */
  shutdown?: string;
  /** What to configure instead, as the provider recommends it (same role). */
  replacement?: string;
  source: CalendarSource;
  /** Anything a reader of the table should know (e.g. a date that is tentative). */
  note?: string;
}

const ANTHROPIC_DEPRECATIONS: CalendarSource = {
  url: 'https://platform.claude.com/docs/en/about-claude/model-deprecations',
  checked: '2026-12-05',
};
const ANTHROPIC_MODELS: CalendarSource = {
  url: 'https://platform.claude.com/docs/en/about-claude/pricing',
  checked: '2026-12-05',
};
const OPENAI_TTS_GUIDE: CalendarSource = {
  url: 'https://developers.openai.com/api/docs/guides/text-to-speech',
  checked: '2026-12-05',
};
const OPENAI_REALTIME_MODEL: CalendarSource = {
  url: 'https://developers.openai.com/api/docs/models/gpt-realtime-2.1-mini',
  checked: '2026-12-05',
};
const DEEPGRAM_MODELS: CalendarSource = {
  url: 'https://developers.deepgram.com/docs/models-languages-overview',
  checked: '2026-12-05',
};

export const MODEL_CALENDAR: readonly CalendarEntry[] = [
  // --- Claude (CLAUDE_MODEL, CLAUDE_FALLBACK_MODEL). A retired model answers 404 not_found_error.
  { id: 'claude-haiku-4-5', vendor: 'anthropic', role: 'llm', source: ANTHROPIC_MODELS },
  { id: 'claude-haiku-5-5', vendor: 'anthropic', role: 'llm', source: ANTHROPIC_MODELS },
  { id: 'claude-sonnet-4-6', vendor: 'anthropic', role: 'llm', source: ANTHROPIC_MODELS },
  { id: 'claude-sonnet-5', vendor: 'anthropic', role: 'llm', source: ANTHROPIC_MODELS },
  { id: 'claude-sonnet-5-5', vendor: 'anthropic', role: 'llm', source: ANTHROPIC_MODELS },
  { id: 'claude-opus-4-6', vendor: 'anthropic', role: 'llm', source: ANTHROPIC_MODELS },
  { id: 'claude-opus-4-7', vendor: 'anthropic', role: 'llm', source: ANTHROPIC_MODELS },
  { id: 'claude-opus-4-8', vendor: 'anthropic', role: 'llm', source: ANTHROPIC_MODELS },
  { id: 'claude-opus-5', vendor: 'anthropic', role: 'llm', source: ANTHROPIC_MODELS },
  { id: 'claude-opus-5-5', vendor: 'anthropic', role: 'llm', source: ANTHROPIC_MODELS },
  {
    id: 'claude-opus-4-5',
    vendor: 'anthropic',
    role: 'llm',
    deprecated: '2026-11-23',
    shutdown: '2027-01-22',
    replacement: 'claude-opus-5-5',
    source: ANTHROPIC_DEPRECATIONS,
    note: 'Anthropic calls 2027-01-22 tentative; @anthropic-ai/sdk internal/data/deprecated-models has the same date',
  },
  {
    id: 'claude-sonnet-4-5',
    vendor: 'anthropic',
    role: 'llm',
    shutdown: '2026-11-30',
    replacement: 'claude-sonnet-4-6',
    source: ANTHROPIC_DEPRECATIONS,
  },
  {
    id: 'claude-opus-4-1',
    vendor: 'anthropic',
    role: 'llm',
    shutdown: '2026-08-05',
    replacement: 'claude-opus-4-8',
    source: ANTHROPIC_DEPRECATIONS,
    note: 'retired on the Claude API (still served on Bedrock and Google Cloud)',
  },
  {
    id: 'claude-sonnet-4',
    vendor: 'anthropic',
    role: 'llm',
    deprecated: '2026-04-14',
    shutdown: '2026-06-15',
    replacement: 'claude-sonnet-4-6',
    source: ANTHROPIC_DEPRECATIONS,
  },
  {
    id: 'claude-opus-4',
    vendor: 'anthropic',
    role: 'llm',
    deprecated: '2026-04-14',
    shutdown: '2026-06-15',
    replacement: 'claude-opus-4-8',
    source: ANTHROPIC_DEPRECATIONS,
  },

  // --- Deepgram speech-to-text (STT_MODEL).
  { id: 'nova-3', vendor: 'deepgram', role: 'stt', source: DEEPGRAM_MODELS },

  // --- OpenAI /v1/audio/speech (TTS_MODEL, the openai-speech engine): the whole endpoint's models shut down.
  ...(['tts-1', 'tts-1-hd', 'gpt-4o-mini-tts'] as const).map(
    (id): CalendarEntry => ({
      id,
      vendor: 'openai',
      role: 'openai-speech',
      deprecated: '2026-10-01',
      shutdown: '2027-01-06',
      replacement: 'gpt-realtime-2.1-mini',
      source: OPENAI_TTS_GUIDE,
      note: 'the replacement works only through the Realtime API: list openai-realtime in TTS_PROVIDERS (OPENAI_REALTIME_MODEL)',
    }),
  ),

  // --- OpenAI Realtime API (OPENAI_REALTIME_MODEL, the openai-realtime engine).
  { id: 'gpt-realtime-2.1-mini', vendor: 'openai', role: 'openai-realtime', source: OPENAI_REALTIME_MODEL },

  // --- Deepgram Aura (DEEPGRAM_TTS_MODEL, the deepgram engine), by voice family (see calendarKey).
  { id: 'aura-2', vendor: 'deepgram', role: 'deepgram-speech', source: DEEPGRAM_MODELS },
  { id: 'aura-1', vendor: 'deepgram', role: 'deepgram-speech', source: DEEPGRAM_MODELS },
];

/**
 * The calendar id of a configured model: lower-cased, without a trailing snapshot date (Anthropic's `-YYYYMMDD`,
 * OpenAI's `-YYYY-MM-DD`) or `-latest`
 * (a snapshot is retired with its family); a Deepgram voice by its family (`aura-2-thalia-en` → `aura-2`,
 * `aura-asteria-en` → `aura-1`), which is how Deepgram prices and retires them.
 */
export function calendarKey(model: string, role?: ModelRole): string {
  const id = model
    .trim()
    .toLowerCase()
    .replace(/-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$/, '');
  if (role === undefined || role === 'deepgram-speech') {
    if (/^aura-2-/.test(id)) return 'aura-2';
    if (/^aura-[a-z]+-[a-z]{2}$/.test(id)) return 'aura-1';
  }
  // Anthropic's aliases `claude-sonnet-4-0` / `claude-opus-4-0` name the 4.0 models.
  if (/^claude-(sonnet|opus)-4-0$/.test(id)) return id.slice(0, -2);
  return id;
}

export function calendarEntry(model: string, role: ModelRole): CalendarEntry | undefined {
  const key = calendarKey(model, role);
  return MODEL_CALENDAR.find((e) => e.id === key && e.role === role);
}

/** The ids the calendar knows for a role (for messages that say what can be set). */
export function knownModels(role: ModelRole): string[] {
  return MODEL_CALENDAR.filter((e) => e.role === role).map((e) => e.id);
}
