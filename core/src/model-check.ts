import { type CalendarEntry, calendarEntry, knownModels, type ModelRole } from './model-calendar.ts';
import { hasPrice } from './pricing.ts';

/** Within this many days of a model's shutdown the agent warns (log, /readyz, metric); Anthropic's notice period. */
export const SHUTDOWN_WARNING_DAYS = 60;

export interface ModelCheckInput {
  /** The configured id. */
  model: string;
  role: ModelRole;
  /** The environment variable that holds it, named in every message. */
  variable: string;
  /** Today, as YYYY-MM-DD (UTC). */
  today: string;
}

export type ModelCheck =
  | { status: 'ok'; model: string; role: ModelRole; variable: string; entry: CalendarEntry }
  | {
      status: 'warn';
      model: string;
      role: ModelRole;
      variable: string;
      entry: CalendarEntry;
      shutdown: string;
      /** Whole days from today until the shutdown date (1 = tomorrow). */
      daysLeft: number;
      message: string;
    }
  | {
      status: 'refuse';
      model: string;
      role: ModelRole;
      variable: string;
      reason: 'unknown' | 'shut_down' | 'unpriced';
      message: string;
    };

const DAY_MS = 86_400_000;

/** Whole days from `from` to `to` (both YYYY-MM-DD, read as UTC dates). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}

/** Today's date in UTC, as the calendar writes dates. */
export function utcToday(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}

function insteadOf(variable: string, entry: CalendarEntry | undefined, role: ModelRole): string {
  if (entry?.replacement) {
    const hint = entry.note ? ` (${entry.note})` : '';
    return `set ${variable}=${entry.replacement} instead${hint}`;
  }
  return `set ${variable} to one of: ${knownModels(role).join(', ')}`;
}

/**
 * Checks one configured model against the providers' calendar and the price table. Pure: `today` is given, so a
 * test (and AGENT_MODEL_CALENDAR_DATE) can set the clock.
 *
 * - refuse: the calendar does not know the id (a typo, or a model nobody checked the dates of), the model is shut
 *   down (its shutdown date is today or past), or it has no price (a call on it would be billed as $0);
 * - warn: it shuts down within SHUTDOWN_WARNING_DAYS;
 * - ok otherwise.
 */
export function checkModel({ model, role, variable, today }: ModelCheckInput): ModelCheck {
  const entry = calendarEntry(model, role);
  if (!entry) {
    return {
      status: 'refuse',
      model,
      role,
      variable,
      reason: 'unknown',
      message: `${variable}=${model} is not in the providers' calendar (core/src/model-calendar.ts): ${insteadOf(variable, undefined, role)}, or add it with its dates and price`,
    };
  }
  if (entry.shutdown) {
    const daysLeft = daysBetween(today, entry.shutdown);
    if (daysLeft <= 0) {
      return {
        status: 'refuse',
        model,
        role,
        variable,
        reason: 'shut_down',
        message: `${variable}=${model}: ${entry.vendor} shut this model down on ${entry.shutdown} (requests to it fail; ${entry.source.url}): ${insteadOf(variable, entry, role)}`,
      };
    }
    if (!hasPrice(model, role)) return unpriced(model, role, variable, entry);
    if (daysLeft <= SHUTDOWN_WARNING_DAYS) {
      return {
        status: 'warn',
        model,
        role,
        variable,
        entry,
        shutdown: entry.shutdown,
        daysLeft,
        message: `${variable}=${model}: ${entry.vendor} shuts this model down on ${entry.shutdown}, in ${daysLeft} day${daysLeft === 1 ? '' : 's'}: ${insteadOf(variable, entry, role)}`,
      };
    }
  }
  if (!hasPrice(model, role)) return unpriced(model, role, variable, entry);
  return { status: 'ok', model, role, variable, entry };
}

function unpriced(model: string, role: ModelRole, variable: string, entry: CalendarEntry): ModelCheck {
  return {
    status: 'refuse',
    model,
    role,
    variable,
    reason: 'unpriced',
    message: `${variable}=${model} has no price in core/src/pricing.ts (its calls would be billed as $0): ${insteadOf(variable, entry.replacement ? entry : undefined, role)}, or add its price with a source`,
  };
}
