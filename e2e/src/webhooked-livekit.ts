import { join } from 'node:path';
import { findFreeTcpPort, findFreeUdpPort } from '@voice/devstack/ports';
import { type RunningLivekit, startLivekit } from '@voice/devstack/processes/livekit';
import { resolveLivekitServer } from '@voice/devstack/processes/livekit-binary';
import type { StackInfo } from '@voice/devstack/stack-info';
import { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { type E2eTokenService, startTokenService } from './token-service.ts';

/**
 * A livekit-server of its own whose webhooks go to a token service of its own, on the test stack's database: what
 * a deployment has (LiveKit → token service webhooks drive the session lifecycle and the dispatch watchdog). The
 * stack's shared livekit-server sends webhooks nowhere, so tests that need them use this.
 */
export interface WebhookedCalls {
  livekit: RunningLivekit;
  /** The stack with this livekit-server in place of the shared one (for agent workers and callers). */
  stack: StackInfo;
  tokens: E2eTokenService;
  rooms: RoomServiceClient;
  dispatches: AgentDispatchClient;
  close(): Promise<void>;
}

export async function startWebhookedCalls(
  stack: StackInfo,
  tokenEnv: Record<string, string>,
): Promise<WebhookedCalls> {
  const tokenPort = await findFreeTcpPort();
  const livekit = await startLivekit({
    binary: await resolveLivekitServer({ log: () => undefined }),
    port: await findFreeTcpPort(),
    tcpPort: await findFreeTcpPort(),
    udpPort: await findFreeUdpPort(),
    apiKey: stack.livekit.apiKey,
    apiSecret: stack.livekit.apiSecret,
    webhookUrls: [`http://127.0.0.1:${tokenPort}/v1/livekit/webhook`],
    logFile: join(stack.logDir, `livekit-webhooked-${Date.now()}.log`),
  });
  const callStack: StackInfo = { ...stack, livekit: { ...stack.livekit, url: livekit.url } };
  let tokens: E2eTokenService;
  try {
    tokens = await startTokenService(callStack, tokenEnv, tokenPort);
  } catch (error) {
    await livekit.stop();
    throw error;
  }
  return {
    livekit,
    stack: callStack,
    tokens,
    rooms: new RoomServiceClient(livekit.httpUrl, stack.livekit.apiKey, stack.livekit.apiSecret),
    dispatches: new AgentDispatchClient(livekit.httpUrl, stack.livekit.apiKey, stack.livekit.apiSecret),
    async close() {
      await tokens.close();
      await livekit.stop();
    },
  };
}
