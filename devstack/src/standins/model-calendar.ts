import { calendarEntry, calendarKey, MODEL_CALENDAR, type ModelRole } from '@voice/core/model-calendar';
import { utcToday } from '@voice/core/model-check';

/**
 * Which models the stand-ins serve, by the same providers' calendar the agent checks itself against
 * (core/src/model-calendar.ts): a model the calendar does not know, or one past its shutdown date on the stand-ins'
 * clock, is refused the way the real API refuses it. The clock is settable (`configure({ calendarDate })`) so a
 * test can be on the other side of a shutdown without waiting for it.
 */
export type StandinClock = () => string;

export const realClock: StandinClock = () => utcToday();

export function servedOnDate(model: string, role: ModelRole, today: string): boolean {
  const entry = calendarEntry(model, role);
  if (!entry) return false;
  return entry.shutdown === undefined || entry.shutdown > today;
}

/** The calendar's ids for some roles that are served on `today` (what a model list answers). */
export function servedModels(roles: ModelRole[], today: string): string[] {
  return MODEL_CALENDAR.filter((e) => roles.includes(e.role) && servedOnDate(e.id, e.role, today)).map(
    (e) => e.id,
  );
}

/** `claude-haiku-4-5` → `Claude Haiku 4.5`, as the Models API's display_name reads. */
export function displayName(model: string): string {
  const [, family = '', ...version] = calendarKey(model, 'llm').split('-');
  return `Claude ${family.charAt(0).toUpperCase()}${family.slice(1)} ${version.join('.')}`.trim();
}
