import type { ObservationInput } from './observations.ts';

/** Env variable through which the worker tells its job processes where to send observations. */
export const OBSERVATIONS_URL_ENV = 'VOICE_AGENT_OBSERVATIONS_URL';

/** Fire-and-forget: metrics must never slow down or break a call. */
export function reportObservation(o: ObservationInput, url = process.env[OBSERVATIONS_URL_ENV]): void {
  if (!url) return;
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(o),
    signal: AbortSignal.timeout(2_000),
  }).catch(() => {});
}
