import { SPEECH_PROVIDERS } from '@voice/core/config/agent';
import { z } from 'zod';

/**
 * What a job process reports to the worker's metrics server. Jobs run in child processes (agents-js forks one
 * per job), so their measurements travel to the one /metrics endpoint as these small JSON records.
 */
export const observationSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('turn'),
    e2e: z.number().nonnegative().optional(),
    sttFinal: z.number().nonnegative().optional(),
    endOfTurn: z.number().nonnegative().optional(),
    llmTtft: z.number().nonnegative().optional(),
    ttsTtfb: z.number().nonnegative().optional(),
    interrupted: z.boolean().default(false),
  }),
  z.object({ kind: z.literal('call_started') }),
  z.object({
    kind: z.literal('call_ended'),
    reason: z.string().max(40),
    durationSeconds: z.number().nonnegative(),
  }),
  z.object({
    kind: z.literal('usage'),
    sttSeconds: z.number().nonnegative(),
    llmInputTokens: z.number().int().nonnegative(),
    llmOutputTokens: z.number().int().nonnegative(),
    llmCacheReadTokens: z.number().int().nonnegative(),
    llmCacheCreationTokens: z.number().int().nonnegative(),
    ttsCharacters: z.number().int().nonnegative(),
    costUsd: z.number().nonnegative(),
  }),
  z.object({
    kind: z.literal('provider_error'),
    provider: z.enum(['stt', 'llm', 'tts']),
    recoverable: z.boolean(),
  }),
  /** A sentence a speech engine finished; `mismatch`: its own transcript differs from the text it was given. */
  z.object({ kind: z.literal('speech_sentence'), engine: z.enum(SPEECH_PROVIDERS), mismatch: z.boolean() }),
  /** A speech engine failed (the next one speaks) or recovered (it speaks again). */
  z.object({ kind: z.literal('speech_engine'), engine: z.enum(SPEECH_PROVIDERS), available: z.boolean() }),
]);
export type Observation = z.infer<typeof observationSchema>;
export type ObservationInput = z.input<typeof observationSchema>;
