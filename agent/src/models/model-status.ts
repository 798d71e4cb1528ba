import type { Logger } from '@voice/core';
import type { AgentConfig } from '@voice/core/config/agent';
import type { ModelRole } from '@voice/core/model-calendar';
import { checkModel, daysBetween, utcToday } from '@voice/core/model-check';
import type { ModelProbe, ProbeResult } from './provider-models.ts';

/** How often the models are checked again while the worker runs (the calendar's day moves, providers retire). */
export const MODEL_RECHECK_INTERVAL_MS = 10 * 60_000;

export interface ModelState {
  variable: string;
  model: string;
  role: ModelRole;
  /** On the providers' calendar, today. */
  calendar: 'ok' | 'warn' | 'shut_down';
  shutdown?: string;
  daysLeft?: number;
  /** What the provider said (not_checked: AGENT_MODEL_CHECK=off, or not asked yet). */
  provider: ProbeResult['status'] | 'not_checked';
  /** What the calendar says when it is not fine (a shutdown ahead or past), naming the variable and what to set. */
  calendarMessage?: string;
  /** What the provider said when the model is missing. */
  providerMessage?: string;
}

export interface Readiness {
  /** The worker takes calls. */
  ready: boolean;
  /** ready with a model missing that another one stands in for, or a shutdown within 60 days. */
  degraded: boolean;
  /** Why it takes no calls (empty when ready). */
  reasons: string[];
  calendarDate: string;
  checkedAt: string | undefined;
  models: ModelState[];
}

/**
 * The configured models' standing, kept current while the worker runs: the providers' calendar for today
 * (loadAgentConfig already refused what was past its date at start; a worker that runs across a shutdown date stops
 * taking calls then), and what the providers say (AGENT_MODEL_CHECK). The worker takes no calls while a model it
 * needs is shut down or missing; a missing model another one stands in for (CLAUDE_FALLBACK_MODEL, another engine
 * in TTS_PROVIDERS) only degrades it. Shutdowns within 60 days are warned about in the log once a day, shown by
 * /readyz and exported as days left (`onShutdownDays`, the voice_agent_model_shutdown_days gauge).
 */
export class ModelStatus {
  readonly #config: AgentConfig;
  readonly #logger: Logger;
  readonly #probe: ModelProbe | undefined;
  readonly #today: () => string;
  readonly #onShutdownDays: ((model: string, role: ModelRole, days: number) => void) | undefined;
  #states: ModelState[];
  #checkedAt: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #warnedOn = new Map<string, string>();
  #lastReasons = '';

  constructor(opts: {
    config: AgentConfig;
    logger: Logger;
    /** Asks the providers (unset, or AGENT_MODEL_CHECK=off: the calendar only). */
    probe?: ModelProbe;
    /** Today (YYYY-MM-DD); defaults to AGENT_MODEL_CALENDAR_DATE, or the UTC date. */
    today?: () => string;
    onShutdownDays?: (model: string, role: ModelRole, days: number) => void;
  }) {
    this.#config = opts.config;
    this.#logger = opts.logger;
    this.#probe = opts.config.models.providerCheck ? opts.probe : undefined;
    const { calendarDate, calendarDateFixed } = opts.config.models;
    this.#today = opts.today ?? (() => (calendarDateFixed ? calendarDate : utcToday()));
    this.#onShutdownDays = opts.onShutdownDays;
    this.#states = opts.config.models.checks.map((c) => ({
      variable: c.variable,
      model: c.model,
      role: c.role,
      calendar: 'ok',
      provider: 'not_checked',
    }));
    this.#applyCalendar();
  }

  /** Checks the calendar for today and, when enabled, asks the providers. Never throws. */
  async refresh(): Promise<void> {
    this.#applyCalendar();
    if (this.#probe) {
      const probe = this.#probe;
      // One request per distinct model and role (CLAUDE_MODEL and a fallback are two).
      await Promise.all(
        this.#states.map(async (state) => {
          const result = await probe(state.model, state.role).catch(
            (error: unknown): ProbeResult => ({ status: 'unverified', detail: String(error) }),
          );
          state.provider = result.status;
          state.providerMessage =
            result.status === 'missing'
              ? `${state.variable}=${state.model}: the provider says this model does not exist (404): it is retired, misspelt, or not available to this key`
              : result.status === 'unverified' && /^HTTP 40[13]$/.test(result.detail)
                ? `${state.variable}=${state.model}: the provider refused the key when asked about the model (${result.detail}): calls will fail too`
                : undefined;
        }),
      );
      this.#checkedAt = new Date().toISOString();
    }
    this.#report();
  }

  /** Refresh now and every `intervalMs` (the timer does not keep the process alive). */
  start(intervalMs = MODEL_RECHECK_INTERVAL_MS): Promise<void> {
    this.#timer ??= setInterval(() => void this.refresh(), intervalMs);
    this.#timer.unref();
    return this.refresh();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  get acceptingJobs(): boolean {
    return this.readiness().ready;
  }

  readiness(): Readiness {
    const reasons: string[] = [];
    let degraded = false;
    for (const state of this.#states) {
      if (state.calendar === 'warn') degraded = true;
      const unusable = state.calendar === 'shut_down' || state.provider === 'missing';
      if (!unusable) continue;
      if (this.#standIn(state)) degraded = true;
      else
        reasons.push(
          (state.calendar === 'shut_down' ? state.calendarMessage : state.providerMessage) ??
            `${state.variable}=${state.model} is not usable`,
        );
    }
    return {
      ready: reasons.length === 0,
      degraded,
      reasons,
      calendarDate: this.#today(),
      checkedAt: this.#checkedAt,
      models: this.#states.map((s) => ({ ...s })),
    };
  }

  /** Another configured model takes over when this one cannot answer. */
  #standIn(state: ModelState): boolean {
    const usable = (s: ModelState) => s.calendar !== 'shut_down' && s.provider !== 'missing';
    if (state.variable === 'CLAUDE_MODEL')
      return this.#states.some((s) => s.variable === 'CLAUDE_FALLBACK_MODEL' && usable(s));
    if (
      state.role === 'openai-realtime' ||
      state.role === 'openai-speech' ||
      state.role === 'deepgram-speech'
    ) {
      const speech = ['openai-realtime', 'openai-speech', 'deepgram-speech'];
      return this.#states.some((s) => s !== state && speech.includes(s.role) && usable(s));
    }
    return false;
  }

  #applyCalendar(): void {
    const today = this.#today();
    for (const state of this.#states) {
      const check = checkModel({ model: state.model, role: state.role, variable: state.variable, today });
      if (check.status === 'refuse') {
        // Only a shutdown can appear while running: unknown and unpriced models were refused at start.
        state.calendar = 'shut_down';
        state.calendarMessage = check.message;
      } else {
        state.calendar = check.status;
        state.shutdown = check.entry.shutdown;
        state.calendarMessage = check.status === 'warn' ? check.message : undefined;
      }
      if (state.shutdown !== undefined) {
        state.daysLeft = Math.max(0, daysBetween(today, state.shutdown));
        this.#onShutdownDays?.(state.model, state.role, state.daysLeft);
      }
    }
  }

  #report(): void {
    const today = this.#today();
    for (const state of this.#states) {
      if (state.calendar !== 'warn') continue;
      const key = `${state.variable}:${state.model}`;
      if (this.#warnedOn.get(key) === today) continue;
      this.#warnedOn.set(key, today);
      this.#logger.warn(
        { variable: state.variable, model: state.model, shutdown: state.shutdown, daysLeft: state.daysLeft },
        state.calendarMessage ?? 'model shuts down soon',
      );
    }
    const readiness = this.readiness();
    const reasons = readiness.reasons.join('\n');
    if (reasons !== this.#lastReasons) {
      this.#lastReasons = reasons;
      if (readiness.ready) this.#logger.info('models usable again: taking calls');
      else
        this.#logger.error(
          { reasons: readiness.reasons },
          'a configured model is not usable: taking no calls',
        );
    }
    for (const state of this.#states) {
      if (state.provider === 'unverified' && state.providerMessage) this.#logger.error(state.providerMessage);
      if (state.provider === 'missing' && this.#standIn(state)) {
        this.#logger.warn(
          { variable: state.variable, model: state.model },
          `${state.providerMessage ?? 'model missing'}; another configured model stands in`,
        );
      }
    }
  }
}
