import { testStack } from '@voice/devstack/testing/stack';
import { createTestUser, serviceClient } from '@voice/devstack/testing/users';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  launchTestBrowser,
  saveScreenshot,
  signInThroughUi,
  startWebHarness,
  type TestBrowser,
  type WebHarness,
} from '../src/web-harness.ts';

// The web client's refusals, in a real Chromium against a real token service and stack (no agent needed): each
// shows its own human message and a way forward. Screenshots go to test-results/screenshots/.
const stack = testStack();
let harness: WebHarness;
const browsers: TestBrowser[] = [];

beforeAll(async () => {
  harness = await startWebHarness(stack, { tokenEnv: { VOICE_MAX_ISSUANCES_PER_MINUTE: '100' } });
});
afterAll(async () => {
  await Promise.allSettled(browsers.map((b) => b.close()));
  await harness?.close();
});

async function browser(options: Parameters<typeof launchTestBrowser>[0] = {}) {
  const b = await launchTestBrowser(options);
  browsers.push(b);
  return b;
}

async function liveSessionCount(userId: string): Promise<number> {
  const { count, error } = await serviceClient(stack)
    .from('voice_sessions')
    .select('id', { count: 'exact', head: true })
    .eq('user_id', userId);
  if (error) throw new Error(error.message);
  return count ?? 0;
}

describe('the page server (serve.ts)', () => {
  it('answers a malformed percent-encoded path with 400, not 500', async () => {
    for (const path of ['/%E0%A4%A', '/%', '/assets/%zz.js']) {
      const response = await fetch(`${harness.webUrl}${path}`);
      expect(response.status, path).toBe(400);
    }
  });

  it('sends a Content-Security-Policy that lets the page reach only its own endpoints, and ships no source maps', async () => {
    const response = await fetch(harness.webUrl);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    const connect = csp.split('; ').find((d) => d.startsWith('connect-src')) ?? '';
    const gateway = new URL(stack.supabaseUrl);
    expect(connect.split(' ').sort()).toEqual(
      [
        'connect-src',
        "'self'",
        `${gateway.protocol}//${gateway.host}`,
        `ws://${gateway.host}`,
        harness.tokenServiceUrl,
        `ws://${new URL(harness.tokenServiceUrl).host}`,
        stack.livekit.url,
      ].sort(),
    );
    const html = await response.text();
    const scripts = [...html.matchAll(/src="([^"]+\.js)"/g)].map((m) => m[1]);
    expect(scripts.length).toBeGreaterThan(0);
    for (const script of scripts) {
      const js = await (await fetch(`${harness.webUrl}${script}`)).text();
      expect(js).not.toContain('sourceMappingURL');
      expect((await fetch(`${harness.webUrl}${script}.map`)).status).toBe(404);
    }
  });
});

describe('web client: call refusals', () => {
  it('a free user signs in (session survives a reload) and sees the upgrade message', async () => {
    const user = await createTestUser(stack, { tier: 'free' });
    const { page } = await browser();
    await page.goto(harness.webUrl);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    // Simulated mode is announced on every screen.
    expect(await page.getByTestId('simulated-banner').textContent()).toMatch(/Simulated mode/);
    await saveScreenshot(page, 'sign-in');

    await signInThroughUi(page, user.email, user.password);
    await page.reload();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await saveScreenshot(page, 'signed-in-empty');

    await page.getByRole('button', { name: 'Start a new call' }).click();
    const notice = page.getByTestId('call-failure');
    await notice.waitFor();
    expect(await notice.getAttribute('data-failure-tag')).toBe('tier-required');
    expect(await notice.textContent()).toMatch(/Upgrade to the Studio plan/);
    expect(await page.getByRole('link', { name: 'See the Studio plan' }).isVisible()).toBe(true);
    expect(await liveSessionCount(user.id)).toBe(0);
    await saveScreenshot(page, 'tier-required');
  });

  it('a 4th concurrent call shows the limit message with when to retry', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    // Three calls already open elsewhere (other tabs/devices), through the same token service.
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${harness.tokenServiceUrl}/v1/token`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(response.status).toBe(201);
    }
    const { page } = await browser({ viewport: { width: 390, height: 844 } });
    await page.goto(harness.webUrl);
    await signInThroughUi(page, user.email, user.password);
    // The three calls created three conversations, newest first.
    await page.locator('.conversation-item').nth(2).waitFor();
    await page.getByRole('button', { name: 'Start a new call' }).click();
    const notice = page.getByTestId('call-failure');
    await notice.waitFor();
    expect(await notice.getAttribute('data-failure-tag')).toBe('session-limit');
    expect(await notice.textContent()).toMatch(
      /Too many calls at once.*try again in \d+ (seconds?|minutes?)/s,
    );
    // Retry is offered but held until the server's retry time.
    expect(await page.getByRole('button', { name: /^Try again in/ }).isDisabled()).toBe(true);
    expect(await liveSessionCount(user.id)).toBe(3);
    await saveScreenshot(page, 'session-limit-phone');
  });

  it('a denied microphone shows how to allow it, before any call is claimed', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    const { page } = await browser({ denyMicrophone: true });
    await page.goto(harness.webUrl);
    await signInThroughUi(page, user.email, user.password);
    await page.getByRole('button', { name: 'Start a new call' }).click();
    const notice = page.getByTestId('call-failure');
    await notice.waitFor();
    expect(await notice.getAttribute('data-failure-tag')).toBe('mic-denied');
    expect(await notice.textContent()).toMatch(/Microphone access is blocked/);
    // Focus moves to the notice so keyboard and screen-reader users land on it.
    expect(await page.locator(':focus').getAttribute('data-testid')).toBe('call-failure');
    expect(await liveSessionCount(user.id)).toBe(0);
    await saveScreenshot(page, 'mic-denied');
  });

  it('connects over real WebRTC, waits for the agent, and says so when the service ends the call because none came', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    // No worker is registered under this agent name, so nobody answers the dispatch. The service (with LiveKit's
    // webhooks) dispatches again until its join deadline, then ends the call agent_unavailable and closes the room.
    const lonely = await startWebHarness(stack, {
      tokenEnv: {
        AGENT_NAME: `nobody-${Date.now()}`,
        VOICE_MAX_ISSUANCES_PER_MINUTE: '100',
        VOICE_AGENT_JOIN_TIMEOUT_SECONDS: '6',
      },
      ownLivekit: true,
    });
    try {
      const { page } = await browser();
      await page.goto(lonely.webUrl);
      await signInThroughUi(page, user.email, user.password);
      await page.getByRole('button', { name: 'Start a new call' }).click();
      await page
        .locator('[data-testid=call-panel][data-call-phase=waiting-for-agent]')
        .waitFor({ timeout: 30_000 });
      expect(await page.getByTestId('call-status').textContent()).toMatch(/Waiting for Claude to join/);
      expect(await page.getByRole('button', { name: 'Hang up' }).isEnabled()).toBe(true);
      await saveScreenshot(page, 'waiting-for-agent');
      const notice = page.getByTestId('call-failure');
      await notice.waitFor({ timeout: 30_000 });
      expect(await notice.getAttribute('data-failure-tag')).toBe('agent-unavailable');
      expect(await notice.textContent()).toMatch(/No assistant was free to join/);
      await saveScreenshot(page, 'agent-unavailable');
      // The slot is free at once: the session ended when the service gave up.
      const { data: ended } = await serviceClient(stack)
        .from('voice_sessions')
        .select('status, end_reason')
        .eq('user_id', user.id);
      expect(ended).toEqual([{ status: 'ended', end_reason: 'agent_unavailable' }]);
      expect(await browsers.at(-1)!.cspViolations()).toEqual([]);
    } finally {
      await lonely.close();
    }
  });

  it('voice switched off and an unreachable token service each say what happened', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    const off = await startWebHarness(stack, { tokenEnv: { VOICE_ENABLED: 'false' } });
    const down = await startWebHarness(stack, { tokenServiceUrlOverride: 'http://127.0.0.1:9' });
    try {
      const { page } = await browser();
      await page.goto(off.webUrl);
      await signInThroughUi(page, user.email, user.password);
      await page.getByRole('button', { name: 'Start a new call' }).click();
      await page.getByTestId('call-failure').waitFor();
      expect(await page.getByTestId('call-failure').getAttribute('data-failure-tag')).toBe('voice-disabled');
      expect(await page.getByTestId('call-failure').textContent()).toMatch(/text chat still work/);
      await saveScreenshot(page, 'voice-disabled');

      // Same browser profile, same origin? No: another port is another origin, so sign in again there.
      await page.goto(down.webUrl);
      await signInThroughUi(page, user.email, user.password);
      await page.getByRole('button', { name: 'Start a new call' }).click();
      await page.getByTestId('call-failure').waitFor();
      expect(await page.getByTestId('call-failure').getAttribute('data-failure-tag')).toBe(
        'token-service-unreachable',
      );
      expect(await page.getByRole('button', { name: 'Try again' }).isEnabled()).toBe(true);
    } finally {
      await off.close();
      await down.close();
    }
  });
});
