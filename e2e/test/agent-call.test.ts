import { randomUUID } from 'node:crypto';
import { llmCost, realtimeSpeechCost, sttCost } from '@voice/core/pricing';
import { type ProviderStandins, startProviderStandins } from '@voice/devstack/standins/index';
import { testStack } from '@voice/devstack/testing/stack';
import { createTestUser, serviceClient } from '@voice/devstack/testing/users';
import { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usageLogIdFor } from '../../agent/src/persistence/deterministic-id.ts';
import { type RunningAgentWorker, startAgentWorker } from '../src/agent-worker.ts';
import { prepareDialogue, report, waitFor } from '../src/call-scenario.ts';
import { ScriptedCaller } from '../src/scripted-caller.ts';
import { type E2eTokenService, startTokenService } from '../src/token-service.ts';

// A whole call over real WebRTC: token service → livekit-server → our agent worker process (Deepgram STT, Claude,
// and speech by the default engine, the OpenAI Realtime API, all pointed at the stand-ins) → a scripted
// @livekit/rtc-node caller; then the rows in Postgres.
const stack = testStack();
const AGENT = `voice-agent-e2e-${randomUUID().slice(0, 8)}`;
const GREETING = 'Hello there, I am listening.';

const QUESTIONS = [
  'What is the capital of France?',
  'Tell me a short story about a friendly dragon who loves to bake bread.',
];
const ANSWERS = [
  'Paris is the capital of France.',
  'Once upon a time a friendly dragon baked warm bread for the whole village.',
];

let standins: ProviderStandins;
let tokens: E2eTokenService;
let worker: RunningAgentWorker;

beforeAll(async () => {
  standins = await startProviderStandins();
  tokens = await startTokenService(stack, { AGENT_NAME: AGENT });
  worker = await startAgentWorker(stack, standins, { agentName: AGENT, env: { AGENT_GREETING: GREETING } });
});

afterAll(async () => {
  await worker?.stop();
  await tokens?.close();
  await standins?.stop();
});

describe('a voice call end to end', () => {
  it('greets, answers two spoken questions, and records every turn, the usage and the session', async () => {
    const { clips } = await prepareDialogue(standins, QUESTIONS, ANSWERS);
    // The voice model says the second answer a little differently than written: counted, never logged.
    standins.configure({
      realtimeReword: (text) =>
        text === ANSWERS[1] ? text.replace('a friendly dragon', 'one friendly dragon') : undefined,
    });
    const user = await createTestUser(stack, { tier: 'studio' });
    const grant = await tokens.issue(user.accessToken, { participant_name: 'E2E caller' });

    const caller = new ScriptedCaller();
    const joinedAt = Date.now();
    await caller.join(grant.server_url, grant.participant_token);
    const latencies: number[] = [];
    try {
      // The greeting.
      const greeting = await caller.waitForSpeech(joinedAt, 30_000);
      const greetingMs = greeting.startedAt - joinedAt;
      await caller.waitForQuiet(1_000);

      for (const clip of clips) {
        const speechEndedAt = await caller.speak(clip);
        const answer = await caller.waitForSpeech(speechEndedAt, 20_000);
        latencies.push(answer.startedAt - speechEndedAt);
        await caller.waitForQuiet(1_000);
      }
      report(
        `[agent-call] join→greeting heard ${greetingMs} ms; voice-to-voice (caller end of speech → first agent audio): ${latencies.map((l) => `${l} ms`).join(', ')}`,
      );
    } finally {
      await caller.hangUp();
    }

    const db = serviceClient(stack);
    // The call ends when the caller leaves: session ended with its reason and duration, slot free.
    const session = await waitFor('the session to end', async () => {
      const { data } = await db.from('voice_sessions').select('*').eq('id', grant.session_id).single();
      return data?.status === 'ended' ? data : undefined;
    });
    expect(session).toMatchObject({ status: 'ended', end_reason: 'caller_left', user_id: user.id });
    expect(Number(session.duration_seconds)).toBeGreaterThan(3);
    const { count: live } = await db
      .from('voice_sessions')
      .select('id', { count: 'exact', head: true })
      .eq('user_id', user.id)
      .neq('status', 'ended');
    expect(live).toBe(0);

    // Every turn in order, in the right conversation, for the right user.
    const usage = await waitFor('the final usage row', async () => {
      const { data } = await db.from('usage_logs').select('*').eq('user_id', user.id);
      const rows = data ?? [];
      return rows.length === 1 && rows[0]?.metadata?.final === true ? rows : undefined;
    });
    const { data: messages } = await db
      .from('messages')
      .select('*')
      .eq('conversation_id', grant.conversation_id)
      .order('created_at', { ascending: true });
    expect(messages?.map((m) => [m.role, m.content])).toEqual([
      ['assistant', GREETING],
      ['user', QUESTIONS[0]],
      ['assistant', ANSWERS[0]],
      ['user', QUESTIONS[1]],
      ['assistant', ANSWERS[1]],
    ]);
    for (const m of messages ?? []) {
      expect(m.user_id).toBe(user.id);
      expect(m.metadata).toMatchObject({ voice_call: true, session_id: grant.session_id });
    }
    const spoken = (messages ?? []).filter((m) => m.role === 'assistant');
    // Every reply says which engine spoke it, and how many of its sentences came out differently.
    // (A reply synthesised twice, once speculatively, counts its sentences twice: hence "at least".)
    expect(spoken.map((m) => m.metadata.speech?.engines)).toEqual([
      ['openai-realtime'],
      ['openai-realtime'],
      ['openai-realtime'],
    ]);
    expect(spoken.map((m) => m.metadata.speech.transcript_mismatches > 0)).toEqual([false, false, true]);
    const answers = spoken.slice(1);
    for (const a of answers) {
      // Recorded per turn (a sanity bound only: speed is measured by bench/, and this 2-core host is shared).
      expect(a.metadata.latency.e2e).toBeGreaterThan(0);
      expect(a.metadata.latency.e2e).toBeLessThan(30);
      expect(a.metadata.latency.llmTtft).toBeGreaterThan(0);
    }

    // One usage row whose numbers match what the providers (stand-ins) saw, priced by the table.
    const [row] = usage;
    expect(row.id).toBe(usageLogIdFor(grant.session_id));
    expect(row.feature).toBe('voice_call');
    const meta = row.metadata;
    const sttSeen = standins.recorded.stt.reduce((s, r) => s + r.audioSeconds, 0);
    // Speech: the Realtime API's usage, as the stand-in reported it in each response.done (one connection).
    expect(standins.recorded.realtime).toHaveLength(1);
    expect(standins.recorded.tts).toEqual([]);
    const responses = standins.recorded.realtime.flatMap((c) => c.responses).filter((r) => r.usage);
    const ttsSeen = {
      textInputTokens: responses.reduce((n, r) => n + (r.usage?.input_token_details?.text_tokens ?? 0), 0),
      cachedTextInputTokens: 0,
      audioInputTokens: 0,
      textOutputTokens: responses.reduce((n, r) => n + (r.usage?.output_token_details?.text_tokens ?? 0), 0),
      audioOutputTokens: responses.reduce(
        (n, r) => n + (r.usage?.output_token_details?.audio_tokens ?? 0),
        0,
      ),
    };
    const llmDone = standins.recorded.llm.filter((r) => r.status === 200 && r.usage);
    const llmOut = llmDone.reduce((s, r) => s + (r.usage?.output_tokens ?? 0), 0);
    const llmIn = llmDone.reduce((s, r) => s + (r.usage?.input_tokens ?? 0), 0);
    report(
      `[agent-call] usage: stt ${meta.stt.audio_seconds}s (stand-in ${sttSeen.toFixed(2)}s), speech ${JSON.stringify(meta.tts.engines)} (stand-in ${JSON.stringify(ttsSeen)}), llm in/out ${meta.llm.input_tokens}/${meta.llm.output_tokens} (stand-in ${llmIn}/${llmOut}), cost $${row.estimated_cost}`,
    );
    // STT: we measure what the plugin sends; tolerance 5% or 0.5 s (frame boundaries, the final flush).
    expect(Math.abs(meta.stt.audio_seconds - sttSeen)).toBeLessThanOrEqual(Math.max(0.5, sttSeen * 0.05));
    // Speech: every response the Realtime API billed, counted once, on the one engine used.
    expect(meta.tts.engines).toHaveLength(1);
    expect(meta.tts.engines[0]).toMatchObject({
      provider: 'openai-realtime',
      model: 'gpt-realtime-2.1-mini',
      requests: responses.length,
      text_input_tokens: ttsSeen.textInputTokens,
      text_output_tokens: ttsSeen.textOutputTokens,
      audio_output_tokens: ttsSeen.audioOutputTokens,
    });
    // LLM: tokens of every request that reached Claude (a cancelled preemptive request may lack its final count).
    expect(meta.llm.output_tokens).toBeLessThanOrEqual(llmOut);
    expect(meta.llm.output_tokens).toBeGreaterThanOrEqual(llmOut - 10 * (standins.recorded.llm.length - 2));
    expect(
      meta.llm.input_tokens + meta.llm.cache_read_tokens + meta.llm.cache_creation_tokens,
    ).toBeGreaterThan(0);
    expect(row.tokens_used).toBe(
      meta.llm.input_tokens +
        meta.llm.output_tokens +
        meta.llm.cache_read_tokens +
        meta.llm.cache_creation_tokens,
    );
    const expectedCost =
      (sttCost(meta.stt.model, meta.stt.audio_seconds) ?? 0) +
      (llmCost(meta.llm.model, {
        inputTokens: meta.llm.input_tokens,
        outputTokens: meta.llm.output_tokens,
        cacheReadTokens: meta.llm.cache_read_tokens,
        cacheCreationTokens: meta.llm.cache_creation_tokens,
      }) ?? 0) +
      (realtimeSpeechCost('gpt-realtime-2.1-mini', ttsSeen) ?? Number.NaN);
    // The pricing table applied to what the stand-ins recorded, within 1 % (rounding to 6 decimals per part).
    expect(Math.abs(Number(row.estimated_cost) - expectedCost)).toBeLessThanOrEqual(expectedCost * 0.01);
    expect(meta.unpriced).toEqual([]);

    // The session row carries the same totals.
    expect(Number(session.stt_audio_seconds)).toBeCloseTo(meta.stt.audio_seconds, 2);
    expect(session.tts_characters).toBe(meta.tts.characters);
    expect(session.llm_output_tokens).toBe(meta.llm.output_tokens);
    expect(Number(session.estimated_cost)).toBeCloseTo(Number(row.estimated_cost), 5);

    // Per-turn latency reached the worker's Prometheus endpoint (from the job process).
    const metrics = await (await fetch(worker.metricsUrl)).text();
    const e2eCount = Number(
      /voice_agent_turn_latency_seconds_count\{part="e2e"\} (\d+)/.exec(metrics)?.[1] ?? 0,
    );
    expect(e2eCount).toBeGreaterThanOrEqual(2);
    expect(metrics).toMatch(/voice_agent_calls_ended_total\{reason="caller_left"\} 1/);
    expect(metrics).toMatch(/voice_agent_turn_latency_seconds_count\{part="llmTtft"\}/);
    const counter = (name: string) =>
      Number(new RegExp(`${name}\\{engine="openai-realtime"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    expect(counter('voice_agent_speech_transcript_mismatches_total')).toBeGreaterThanOrEqual(1);
    expect(counter('voice_agent_speech_sentences_total')).toBeGreaterThanOrEqual(3);

    // No transcript or reply text in the agent's logs (the framework's lk.pii.* fields are stripped).
    const log = worker.log();
    for (const text of [...QUESTIONS, ...ANSWERS]) expect(log).not.toContain(text);
    // The greeting played from the audio synthesised while the job joined (not the slower fallback).
    expect(log).toContain('"msg":"call started"');
    expect(log).not.toContain('greeting not synthesised ahead');
  }, 120_000);

  it('refuses a dispatch without valid metadata before any job process takes it, and marks nothing', async () => {
    const httpUrl = stack.livekit.url.replace(/^ws/, 'http');
    const rooms = new RoomServiceClient(httpUrl, stack.livekit.apiKey, stack.livekit.apiSecret);
    const dispatches = new AgentDispatchClient(httpUrl, stack.livekit.apiKey, stack.livekit.apiSecret);
    // A real pending session that a forged dispatch names without the rest of the metadata.
    const user = await createTestUser(stack, { tier: 'studio' });
    const grant = await tokens.issue(user.accessToken, {});
    const room = `forged-${randomUUID().slice(0, 8)}`;
    await rooms.createRoom({ name: room, emptyTimeout: 30 });
    const refusals = () => worker.log().split('"reason":"invalid_dispatch"').length;
    const before = refusals();
    const assignedBefore = worker.log().split('"msg":"job assigned"').length;
    await dispatches.createDispatch(room, AGENT, {
      metadata: JSON.stringify({ session_id: grant.session_id }),
    });
    await waitFor('the agent to refuse the job', async () => (refusals() > before ? true : undefined));
    // Refused in the worker (ServerOptions.requestFunc): no job process was given the job.
    expect(worker.log().split('"msg":"job assigned"').length).toBe(assignedBefore);
    const participants = await rooms.listParticipants(room);
    expect(participants).toEqual([]);
    const { data } = await serviceClient(stack)
      .from('voice_sessions')
      .select('status')
      .eq('id', grant.session_id)
      .single();
    expect(data?.status).toBe('pending');
    await rooms.deleteRoom(room);
  }, 60_000);
});
