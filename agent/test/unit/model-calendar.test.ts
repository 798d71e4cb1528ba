import { loadAgentConfig } from '@voice/core/config/agent';
import { calendarEntry, calendarKey, MODEL_CALENDAR } from '@voice/core/model-calendar';
import { checkModel, daysBetween } from '@voice/core/model-check';
import { describe, expect, it } from 'vitest';
import { AGENT_ENV, agentConfigProblems } from './agent-env.ts';

const BASE = AGENT_ENV;

function problems(env: Record<string, string>): Array<{ variable: string; message: string }> {
  return agentConfigProblems({ ...BASE, ...env });
}

describe("the providers' calendar", () => {
  it('names a source and the date it was read for every entry, and dates as YYYY-MM-DD', () => {
    for (const entry of MODEL_CALENDAR) {
      expect(entry.source.url, entry.id).toMatch(/^https:\/\//);
      expect(entry.source.checked, entry.id).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      for (const date of [entry.deprecated, entry.shutdown])
        if (date) expect(date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      // A replacement is a model the calendar knows for the same role (so following the advice starts).
      if (entry.replacement) {
        expect(calendarEntry(entry.replacement, entry.role)?.shutdown, entry.replacement).toBeUndefined();
      }
    }
  });

  it('holds the dates the providers published', () => {
    for (const id of ['tts-1', 'tts-1-hd', 'gpt-4o-mini-tts']) {
      expect(calendarEntry(id, 'openai-speech')).toMatchObject({
        shutdown: '2027-01-06',
        replacement: 'gpt-realtime-2.1-mini',
      });
    }
    expect(calendarEntry('claude-sonnet-4', 'llm')?.shutdown).toBe('2026-06-15');
    expect(calendarEntry('claude-sonnet-4-5', 'llm')?.shutdown).toBe('2026-11-30');
    expect(calendarEntry('claude-opus-4-5', 'llm')?.shutdown).toBe('2027-01-22');
    expect(calendarEntry('claude-opus-4-1', 'llm')?.shutdown).toBeDefined();
    expect(calendarEntry('claude-haiku-4-5', 'llm')?.shutdown).toBeUndefined();
  });

  it('finds snapshots, aliases and Deepgram voices by their family', () => {
    expect(calendarKey('claude-sonnet-4-20250514')).toBe('claude-sonnet-4');
    expect(calendarKey('claude-sonnet-4-0')).toBe('claude-sonnet-4');
    expect(calendarKey('Claude-Haiku-4-5-latest')).toBe('claude-haiku-4-5');
    expect(calendarEntry('aura-2-thalia-en', 'deepgram-speech')?.id).toBe('aura-2');
    expect(calendarEntry('aura-asteria-en', 'deepgram-speech')?.id).toBe('aura-1');
    // A role is part of the key: a speech model is not an LLM.
    expect(calendarEntry('tts-1', 'llm')).toBeUndefined();
  });
});

describe('checking a model against the calendar', () => {
  const check = (model: string, today: string, role: 'llm' | 'openai-speech' = 'llm') =>
    checkModel({ model, role, variable: role === 'llm' ? 'CLAUDE_MODEL' : 'TTS_MODEL', today });

  it('counts days in UTC dates', () => {
    expect(daysBetween('2026-12-05', '2027-01-06')).toBe(32);
    expect(daysBetween('2027-01-06', '2027-01-06')).toBe(0);
  });

  it('passes a served model without a shutdown date', () => {
    expect(check('claude-haiku-4-5', '2026-12-05').status).toBe('ok');
  });

  it('warns within 60 days of the shutdown, with the days left', () => {
    const c = check('tts-1', '2026-12-05', 'openai-speech');
    expect(c).toMatchObject({ status: 'warn', daysLeft: 32, shutdown: '2027-01-06' });
    expect(c.status === 'warn' && c.message).toMatch(
      /TTS_MODEL=tts-1.*2027-01-06.*32 days.*gpt-realtime-2\.1-mini/,
    );
    expect(check('tts-1', '2026-11-07', 'openai-speech').status).toBe('warn'); // 60 days
    expect(check('tts-1', '2026-11-06', 'openai-speech').status).toBe('ok'); // 61 days
    expect(check('tts-1', '2027-01-05', 'openai-speech')).toMatchObject({ status: 'warn', daysLeft: 1 });
  });

  it('refuses on and after the shutdown date, naming the variable and what to set instead', () => {
    const c = check('tts-1', '2027-01-06', 'openai-speech');
    expect(c).toMatchObject({ status: 'refuse', reason: 'shut_down' });
    expect(c.status === 'refuse' && c.message).toMatch(
      /^TTS_MODEL=tts-1: openai shut this model down on 2027-01-06/,
    );
    expect(c.status === 'refuse' && c.message).toMatch(/set TTS_MODEL=gpt-realtime-2\.1-mini instead/);
    const sonnet = check('claude-sonnet-4-20250514', '2026-12-05');
    expect(sonnet).toMatchObject({ status: 'refuse', reason: 'shut_down' });
    expect(sonnet.status === 'refuse' && sonnet.message).toMatch(
      /set CLAUDE_MODEL=claude-sonnet-4-6 instead/,
    );
  });

  it('refuses a model the calendar does not know, listing what it knows', () => {
    const c = check('claude-haiku-4-6', '2026-12-05');
    expect(c).toMatchObject({ status: 'refuse', reason: 'unknown' });
    expect(c.status === 'refuse' && c.message).toMatch(
      /CLAUDE_MODEL=claude-haiku-4-6 is not in the providers' calendar.*claude-haiku-4-5/,
    );
  });

  it('refuses a served model without a price (it would be billed as $0)', () => {
    const c = check('gpt-4o-mini-tts', '2026-06-01', 'openai-speech');
    expect(c).toMatchObject({ status: 'refuse', reason: 'unpriced' });
    expect(c.status === 'refuse' && c.message).toMatch(/TTS_MODEL=gpt-4o-mini-tts has no price/);
  });
});

describe('the agent config and the calendar', () => {
  it('starts with the defaults, and reports each model in use', () => {
    const config = loadAgentConfig({ ...BASE, AGENT_MODEL_CALENDAR_DATE: '2026-12-05' });
    expect(config.models.calendarDate).toBe('2026-12-05');
    expect(config.models.providerCheck).toBe(true);
    expect(config.models.checks.map((c) => [c.variable, c.status])).toEqual([
      ['STT_MODEL', 'ok'],
      ['CLAUDE_MODEL', 'ok'],
      ['OPENAI_REALTIME_MODEL', 'ok'],
      ['DEEPGRAM_TTS_MODEL', 'ok'],
    ]);
  });

  it('refuses to start with a model past its shutdown (the clock set), saying what to set', () => {
    expect(problems({ TTS_PROVIDERS: 'openai-speech', AGENT_MODEL_CALENDAR_DATE: '2027-01-06' })).toEqual([
      {
        variable: 'TTS_MODEL',
        message: expect.stringMatching(
          /shut this model down on 2027-01-06.*set TTS_MODEL=gpt-realtime-2\.1-mini/,
        ),
      },
    ]);
    expect(
      problems({ CLAUDE_MODEL: 'claude-sonnet-4-5', AGENT_MODEL_CALENDAR_DATE: '2026-12-01' })[0],
    ).toMatchObject({
      variable: 'CLAUDE_MODEL',
      message: expect.stringMatching(/claude-sonnet-4-6/),
    });
  });

  it('checks a speech model only when its engine is listed', () => {
    const past = { TTS_MODEL: 'tts-1', AGENT_MODEL_CALENDAR_DATE: '2027-02-01' };
    expect(problems({ ...past, TTS_PROVIDERS: 'openai-realtime,deepgram' })).toEqual([]);
    expect(problems({ ...past, TTS_PROVIDERS: 'openai-realtime,openai-speech' })[0]?.variable).toBe(
      'TTS_MODEL',
    );
    expect(problems({ DEEPGRAM_TTS_MODEL: 'aura-9-x-en', TTS_PROVIDERS: 'openai-realtime' })).toEqual([]);
    expect(problems({ DEEPGRAM_TTS_MODEL: 'aura-9-x-en', TTS_PROVIDERS: 'deepgram' })[0]?.variable).toBe(
      'DEEPGRAM_TTS_MODEL',
    );
    expect(problems({ OPENAI_REALTIME_MODEL: 'gpt-realtime-9' })[0]?.variable).toBe('OPENAI_REALTIME_MODEL');
  });

  it('checks CLAUDE_FALLBACK_MODEL like CLAUDE_MODEL, and not as CLAUDE_MODEL itself', () => {
    expect(problems({ CLAUDE_FALLBACK_MODEL: 'claude-opus-4-1' })[0]?.variable).toBe('CLAUDE_FALLBACK_MODEL');
    expect(problems({ CLAUDE_FALLBACK_MODEL: 'claude-haiku-4-5' })[0]?.variable).toBe(
      'CLAUDE_FALLBACK_MODEL',
    );
    const config = loadAgentConfig({ ...BASE, CLAUDE_FALLBACK_MODEL: 'claude-sonnet-4-6' });
    expect(config.anthropic.fallbackModel).toBe('claude-sonnet-4-6');
  });

  it('passes a model within 60 days of its shutdown as a warning', () => {
    const config = loadAgentConfig({
      ...BASE,
      CLAUDE_MODEL: 'claude-opus-4-5',
      AGENT_MODEL_CALENDAR_DATE: '2026-12-05',
    });
    expect(config.models.checks.find((c) => c.variable === 'CLAUDE_MODEL')).toMatchObject({
      status: 'warn',
      daysLeft: 48,
    });
  });

  it('refuses an unknown model or a calendar date that is not a date', () => {
    expect(problems({ STT_MODEL: 'nova-9' })[0]?.variable).toBe('STT_MODEL');
    expect(problems({ AGENT_MODEL_CALENDAR_DATE: '2026-13-40' })[0]?.variable).toBe(
      'AGENT_MODEL_CALENDAR_DATE',
    );
    expect(problems({ AGENT_MODEL_CHECK: 'maybe' })[0]?.variable).toBe('AGENT_MODEL_CHECK');
  });
});
