import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@voice/core';
import { loadTokenServiceConfig } from '@voice/core/config/token-service';
import { findFreeTcpPort, findFreeUdpPort } from '@voice/devstack/ports';
import { type RunningLivekit, startLivekit } from '@voice/devstack/processes/livekit';
import { resolveLivekitServer } from '@voice/devstack/processes/livekit-binary';
import { tokenServiceEnvFor } from '@voice/devstack/services/token-service';
import type { StackInfo } from '@voice/devstack/stack-info';
import { buildTokenService } from '@voice/token-service/app';
import { startWebClientServer, type WebClientServer } from '@voice/web-client/serve';
import type { FastifyInstance } from 'fastify';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

/**
 * Browser test equipment for the web client: the built page on a free port with its /config.json, a real token
 * service allowed to answer that origin (CORS), and Debian's Chromium with a fake microphone.
 */

const repoRoot = resolve(fileURLToPath(new URL('../../', import.meta.url)));
export const screenshotDir = join(repoRoot, 'test-results', 'screenshots');

export interface WebHarness {
  webUrl: string;
  tokenServiceUrl: string;
  tokenService: FastifyInstance;
  close(): Promise<void>;
}

export interface WebHarnessOptions {
  /** Extra token-service env (limits, VOICE_ENABLED, ...). */
  tokenEnv?: Record<string, string>;
  simulatedProviders?: boolean;
  agentJoinTimeoutSeconds?: number;
  /** Point the page at this token service URL instead (e.g. a closed port, to see "unreachable"). */
  tokenServiceUrlOverride?: string;
  /**
   * A livekit-server of the harness's own whose webhooks reach its token service (the stack's shared one sends
   * none): needed where the session lifecycle or the dispatch watchdog matter.
   */
  ownLivekit?: boolean;
}

export async function startWebHarness(
  stack: StackInfo,
  options: WebHarnessOptions = {},
): Promise<WebHarness> {
  // The token service must allow the page's origin (CORS) and the page must know the token service's URL: serve
  // the page first with a config getter, then start the token service for its origin, then fill in the URL.
  let tokenServiceUrl = '';
  let web: WebClientServer | undefined;
  let tokenService: FastifyInstance | undefined;
  let livekit: RunningLivekit | undefined;
  const tokenPort = options.ownLivekit ? await findFreeTcpPort() : 0;
  try {
    if (options.ownLivekit) {
      livekit = await startLivekit({
        binary: await resolveLivekitServer({ log: () => undefined }),
        port: await findFreeTcpPort(),
        tcpPort: await findFreeTcpPort(),
        udpPort: await findFreeUdpPort(),
        apiKey: stack.livekit.apiKey,
        apiSecret: stack.livekit.apiSecret,
        webhookUrls: [`http://127.0.0.1:${tokenPort}/v1/livekit/webhook`],
        logFile: join(stack.logDir, `livekit-web-${Date.now()}.log`),
      });
    }
    const callStack: StackInfo = livekit
      ? { ...stack, livekit: { ...stack.livekit, url: livekit.url } }
      : stack;
    web = await startWebClientServer({
      livekitUrl: callStack.livekit.url,
      config: () => ({
        supabaseUrl: stack.supabaseUrl,
        supabaseAnonKey: stack.anonKey,
        tokenServiceUrl: options.tokenServiceUrlOverride ?? (tokenServiceUrl || 'http://127.0.0.1:9'),
        simulatedProviders: options.simulatedProviders ?? true,
        agentJoinTimeoutSeconds: options.agentJoinTimeoutSeconds ?? 30,
      }),
    });
    const tokenConfig = loadTokenServiceConfig(
      tokenServiceEnvFor(callStack, 0, {
        corsOrigins: [web.url],
        env: { LOG_LEVEL: 'warn', ...options.tokenEnv },
      }),
    );
    tokenService = await buildTokenService(tokenConfig, {
      // Into the stack's log dir with the other services' (kept when a test fails), not into the test output.
      logger: createLogger({
        name: 'token-service',
        level: tokenConfig.log.level,
        file: join(stack.logDir, `token-service-web-${process.pid}.log`),
      }),
    });
    tokenServiceUrl = await tokenService.listen({ port: tokenPort, host: '127.0.0.1' });
    const service = tokenService;
    const server = web;
    const ownLivekit = livekit;
    return {
      webUrl: web.url,
      tokenServiceUrl,
      tokenService: service,
      close: async () => {
        await Promise.allSettled([service.close(), server.close()]);
        await ownLivekit?.stop();
      },
    };
  } catch (error) {
    await Promise.allSettled([tokenService?.close(), web?.close()]);
    await livekit?.stop();
    throw error;
  }
}

export interface BrowserOptions {
  /** WAV file the fake microphone plays (looped unless `loop: false`). */
  microphoneWav?: string;
  loop?: boolean;
  /** Deny the microphone permission instead of granting it. */
  denyMicrophone?: boolean;
  viewport?: { width: number; height: number };
}

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** The page's console and errors so far (printed by tests when something fails). */
  consoleLines: string[];
  /** What the page's Content-Security-Policy blocked so far (directive and URL), in every page of the context. */
  cspViolations(): Promise<string[]>;
  close(): Promise<void>;
}

/** Chromium (Debian's, via playwright-core) with a fresh profile in a temp dir and a fake microphone. */
export async function launchTestBrowser(options: BrowserOptions = {}): Promise<TestBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'web-e2e-profile-'));
  const args = [
    '--use-fake-device-for-media-stream',
    // Without this Chromium offers no 127.0.0.1 ICE candidates and WebRTC to the local livekit-server fails.
    '--allow-loopback-in-peer-connection',
    '--autoplay-policy=no-user-gesture-required',
    '--no-sandbox',
  ];
  if (options.denyMicrophone) args.push('--deny-permission-prompts');
  else args.push('--use-fake-ui-for-media-stream');
  if (options.microphoneWav) {
    args.push(
      `--use-file-for-fake-audio-capture=${options.microphoneWav}${options.loop === false ? '%noloop' : ''}`,
    );
  }
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args,
    viewport: options.viewport ?? { width: 1100, height: 820 },
    ...(options.denyMicrophone ? {} : { permissions: ['microphone'] }),
  });
  // Each document records what its Content-Security-Policy blocked, so a test can require that nothing was.
  // (A string: this file is type-checked without the DOM library.)
  await context.addInitScript({
    content: `window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', (event) => {
        window.__cspViolations.push(event.effectiveDirective + ' ' + event.blockedURI);
      });`,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const cspLines: string[] = [];
  const consoleLines: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspLines.push(message.text());
  });
  page.on('console', (message) => consoleLines.push(`[${message.type()}] ${message.text()}`));
  page.on('pageerror', (error) => consoleLines.push(`[pageerror] ${error.message}`));
  return {
    context,
    page,
    consoleLines,
    async cspViolations() {
      const recorded = await page
        .evaluate<string[]>('window.__cspViolations ?? []')
        .catch((): string[] => []);
      return [...cspLines, ...recorded];
    },
    close: async () => {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

export async function saveScreenshot(page: Page, name: string): Promise<string> {
  await mkdir(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Signs in through the page's form, as a person would. */
export async function signInThroughUi(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 15_000 });
}
