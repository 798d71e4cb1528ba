import { randomUUID } from 'node:crypto';
import { silenceClip, speechClip } from '@voice/devstack/standins/fixtures';
import { type ProviderStandins, startProviderStandins } from '@voice/devstack/standins/index';
import { testStack } from '@voice/devstack/testing/stack';
import { createTestUser, serviceClient } from '@voice/devstack/testing/users';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { type RunningAgentWorker, startAgentWorker } from '../src/agent-worker.ts';
import {
  launchTestBrowser,
  saveScreenshot,
  signInThroughUi,
  startWebHarness,
  type TestBrowser,
  type WebHarness,
} from '../src/web-harness.ts';

// The web client end to end in Debian's Chromium: sign in through the real auth server, call, speak through the
// fake microphone (a speech WAV), see both sides of the transcript, hear the agent (measured in the page), hang
// up, and find the same turns after a reload, read from `messages` through RLS.
const stack = testStack();
const AGENT = `voice-agent-web-${randomUUID().slice(0, 8)}`;
const GREETING = 'Hello there, I am listening.';
const QUESTION = 'What is the capital of France?';
const ANSWER = 'Paris is the capital of France.';

let standins: ProviderStandins;
let worker: RunningAgentWorker;
let harness: WebHarness;
let browser: TestBrowser | undefined;

beforeAll(async () => {
  standins = await startProviderStandins();
  // The stand-in cannot recognise words: the one utterance in the clip is the question.
  standins.configure({
    sttScript: (utterance) => (utterance.speechSeconds > 0.5 ? QUESTION : undefined),
    llmScript: (request) => {
      const lastUser = JSON.stringify([...request.messages].reverse().find((m) => m.role === 'user') ?? '');
      return lastUser.includes(QUESTION) ? ANSWER : undefined;
    },
  });
  [worker, harness] = await Promise.all([
    startAgentWorker(stack, standins, {
      agentName: AGENT,
      // This shared 2-core machine runs far above 70 % CPU; the default threshold would refuse every job.
      env: { AGENT_GREETING: GREETING, AGENT_LOAD_THRESHOLD: '1000' },
    }),
    startWebHarness(stack, { tokenEnv: { AGENT_NAME: AGENT }, agentJoinTimeoutSeconds: 90 }),
  ]);
});

afterAll(async () => {
  if (browser && process.env.WEB_E2E_DEBUG) process.stderr.write(`${browser.consoleLines.join('\n')}\n`);
  await browser?.close();
  await harness?.close();
  await worker?.stop();
  await standins?.stop();
});

async function phase(page: Page): Promise<string | null> {
  return page.getByTestId('call-panel').getAttribute('data-call-phase');
}

async function transcriptLines(page: Page, source: 'live' | 'saved') {
  return page.locator(`[data-testid=transcript] li[data-source=${source}]`).evaluateAll((items) =>
    items.map((li) => ({
      role: li.getAttribute('data-role'),
      text: li.querySelector('.turn-words')?.textContent,
    })),
  );
}

describe('web client: a call in the browser', () => {
  // Generous waits: on a loaded 2-core machine the agent's first words can take tens of seconds.
  it('a studio user calls, is heard and answered, hangs up, and finds the call in the conversation after reload', {
    timeout: 300_000,
  }, async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    // The question after a pause for the greeting, repeated every ~22 s: on a loaded machine the agent can join
    // after the pre-connect buffer gave up on the first one, and a later repetition is then the one it hears.
    const clip = await speechClip(QUESTION, {
      sampleRate: 48_000,
      leadSilenceMs: 8_000,
      trailSilenceMs: 12_000,
    });
    browser = await launchTestBrowser({ microphoneWav: clip.path });
    const { page } = browser;
    onTestFailed(async () => {
      await saveScreenshot(page, 'web-call-failure').catch(() => undefined);
    });

    await page.goto(harness.webUrl);
    await signInThroughUi(page, user.email, user.password);
    const startedAt = Date.now();
    await page.getByRole('button', { name: 'Start a new call' }).click();

    // The agent joins and greets; the page shows its state and the greeting's words (the caller may cut it short).
    await page.locator('[data-testid=call-panel][data-call-phase=in-call]').waitFor({ timeout: 60_000 });
    const joinedMs = Date.now() - startedAt;
    await page.locator('[data-testid=call-panel][data-agent-state=speaking]').waitFor({ timeout: 60_000 });
    await saveScreenshot(page, 'call-speaking');
    await page.locator('li[data-role=assistant][data-source=live]').first().waitFor({ timeout: 60_000 });

    // The user's words (from the fake microphone, through STT) and the answer appear live.
    await page
      .locator('li[data-role=user][data-source=live]', { hasText: QUESTION })
      .first()
      .waitFor({ timeout: 60_000 });
    await page
      .locator('li[data-role=assistant][data-source=live]', { hasText: ANSWER })
      .first()
      .waitFor({ timeout: 60_000 });
    await page.locator('[data-testid=call-panel][data-agent-state=listening]').waitFor({ timeout: 60_000 });
    await page.getByText('Details for nerds').click();
    await saveScreenshot(page, 'call-listening');

    // Sound arrived in this browser: the page measures the agent's track it plays.
    const audio = page.getByTestId('agent-audio');
    expect(Number(await audio.getAttribute('data-agent-audio-peak'))).toBeGreaterThan(0.02);
    expect(Number(await audio.getAttribute('data-agent-audio-audible-ms'))).toBeGreaterThan(500);
    // The clock runs and the limits come from the token response.
    expect(await page.getByTestId('monthly-minutes-left').textContent()).toMatch(/^\d+$/);
    // The debug view measured the turn.
    expect(await page.getByTestId('client-latency-summary').textContent()).toMatch(/p50 \d+ ms/);

    // Mute is a toggle with its state exposed.
    const mute = page.getByRole('button', { name: 'Mute microphone' });
    await mute.click();
    await page.getByRole('button', { name: 'Unmute microphone', pressed: true }).click();
    await page.getByRole('button', { name: 'Mute microphone', pressed: false }).waitFor();

    // The same call at phone width.
    await page.setViewportSize({ width: 390, height: 844 });
    await saveScreenshot(page, 'call-phone');
    expect(await page.getByRole('button', { name: 'Hang up' }).isVisible()).toBe(true);
    await page.setViewportSize({ width: 1100, height: 820 });

    // The whole call ran under the page's Content-Security-Policy (serve.ts) with nothing blocked.
    expect(await browser.cspViolations()).toEqual([]);

    await page.getByRole('button', { name: 'Hang up' }).click();
    await page.locator('[data-testid=call-panel][data-call-phase=ended]').waitFor();
    expect(await page.getByTestId('call-status').textContent()).toBe('Call ended');
    // The transcript stays; once the agent's rows land it is the saved one.
    await page
      .locator('li[data-role=user][data-source=saved]', { hasText: QUESTION })
      .first()
      .waitFor({ timeout: 60_000 });
    await saveScreenshot(page, 'call-ended');

    const { data: conversations } = await user.client.from('conversations').select('id');
    expect(conversations).toHaveLength(1);
    const conversationId = conversations![0]!.id as string;
    const savedRows = async () => {
      const { data, error } = await serviceClient(stack)
        .from('messages')
        .select('role, content')
        .eq('conversation_id', conversationId)
        .order('created_at');
      if (error) throw new Error(error.message);
      return data.map((r) => ({ role: r.role as string, text: r.content as string }));
    };
    // What stays on screen is exactly what `messages` holds (the agent's last rows may land a moment later).
    await expect
      .poll(
        async () =>
          JSON.stringify(await transcriptLines(page, 'saved')) === JSON.stringify(await savedRows()),
        {
          timeout: 30_000,
        },
      )
      .toBe(true);
    const rows = await savedRows();
    expect(rows[0]?.role).toBe('assistant'); // the greeting
    expect(rows).toEqual(
      expect.arrayContaining([
        { role: 'user', text: QUESTION },
        { role: 'assistant', text: ANSWER },
      ]),
    );
    expect(await transcriptLines(page, 'live')).toEqual([]);

    // Reload: still signed in, the same conversation, the same lines, from the database.
    await page.reload();
    await page.locator('li[data-source=saved]').first().waitFor();
    expect(await transcriptLines(page, 'saved')).toEqual(rows);
    expect(await phase(page)).toBe('idle');
    await saveScreenshot(page, 'after-reload');
    expect(await browser.cspViolations()).toEqual([]);
    process.stderr.write(`[web-call] click → agent in call ${joinedMs} ms\n`);
  });
  it('the agent ends a call at its maximum length and the page says so', { timeout: 180_000 }, async () => {
    const short = await startWebHarness(stack, {
      tokenEnv: { AGENT_NAME: AGENT, VOICE_MAX_CALL_SECONDS: '12' },
      agentJoinTimeoutSeconds: 90,
    });
    const user = await createTestUser(stack, { tier: 'studio' });
    const quiet = await launchTestBrowser({ microphoneWav: (await silenceClip(30, 48_000)).path });
    try {
      const { page } = quiet;
      onTestFailed(async () => {
        await saveScreenshot(page, 'web-call-max-duration-failure').catch(() => undefined);
      });
      await page.goto(short.webUrl);
      await signInThroughUi(page, user.email, user.password);
      await page.getByRole('button', { name: 'Start a new call' }).click();
      await page.locator('[data-testid=call-panel][data-call-phase=in-call]').waitFor({ timeout: 90_000 });
      // The agent says goodbye shortly before the limit, then closes the room; the page learns why from
      // voice_sessions.end_reason (the user's own row, through RLS).
      await page
        .locator('[data-testid=call-panel][data-call-phase=ended][data-end-reason=max-duration]')
        .waitFor({ timeout: 90_000 });
      expect(await page.getByTestId('call-status').textContent()).toMatch(/maximum call length/);
      expect(await page.getByRole('button', { name: 'Call again' }).isVisible()).toBe(true);
      await saveScreenshot(page, 'call-max-duration');
    } finally {
      await quiet.close();
      await short.close();
    }
  });
});
