import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ProviderStandins, startProviderStandins } from '@voice/devstack/standins/index';
import { testStack } from '@voice/devstack/testing/stack';
import { createTestUser, serviceClient } from '@voice/devstack/testing/users';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAgentWorker, startAgentWorker } from '../src/agent-worker.ts';
import {
  freeTurnPorts,
  type LivekitNode,
  productionNodeEnv,
  type RunningRedis,
  startLivekitNode,
  startRedis,
  type TurnCertificate,
  writeTurnCertificate,
} from '../src/livekit-cluster.ts';
import { ScriptedCaller } from '../src/scripted-caller.ts';
import { type E2eTokenService, startTokenService } from '../src/token-service.ts';

// The product on a LiveKit cluster: two livekit-server nodes from livekit.yaml share a Redis. The token service
// hands the caller node A's URL; the agent worker is registered with node B only. The caller's room gets the agent
// dispatched across the cluster, and the caller hears its greeting: the call works through routing.

const stack = testStack();
const dir = mkdtempSync(join(tmpdir(), 'selfhosting-cluster-agent-'));
const apiKey = `API${randomBytes(6).toString('hex')}`;
const apiSecret = randomBytes(24).toString('base64url');
const AGENT = `voice-agent-cluster-${randomUUID().slice(0, 8)}`;
const GREETING = 'Hello from the other node.';

let redis: RunningRedis;
let turn: TurnCertificate;
let nodeA: LivekitNode;
let nodeB: LivekitNode;
let standins: ProviderStandins;
let tokens: E2eTokenService;
let worker: RunningAgentWorker;

async function nodeEnv(): Promise<Record<string, string>> {
  return productionNodeEnv({ apiKey, apiSecret, redis, turn, turnPorts: await freeTurnPorts() });
}

beforeAll(async () => {
  turn = writeTurnCertificate(dir, 'turn.selfhosting.test');
  redis = await startRedis(dir, randomBytes(12).toString('hex'));
  nodeA = await startLivekitNode({
    configFile: 'livekit.yaml',
    env: await nodeEnv(),
    logFile: join(dir, 'a.log'),
  });
  nodeB = await startLivekitNode({
    configFile: 'livekit.yaml',
    env: await nodeEnv(),
    logFile: join(dir, 'b.log'),
  });
  standins = await startProviderStandins();
  const livekitA = { LIVEKIT_URL: nodeA.url, LIVEKIT_API_KEY: apiKey, LIVEKIT_API_SECRET: apiSecret };
  const livekitB = { LIVEKIT_URL: nodeB.url, LIVEKIT_API_KEY: apiKey, LIVEKIT_API_SECRET: apiSecret };
  tokens = await startTokenService(stack, { AGENT_NAME: AGENT, ...livekitA });
  worker = await startAgentWorker(stack, standins, {
    agentName: AGENT,
    env: { AGENT_GREETING: GREETING, ...livekitB },
  });
});

afterAll(async () => {
  await worker?.stop();
  await tokens?.close();
  await standins?.stop();
  await nodeA?.stop();
  await nodeB?.stop();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a call across a two-node LiveKit cluster', () => {
  it('the caller on node A hears the greeting of the agent registered on node B, which records it', async () => {
    const user = await createTestUser(stack, { tier: 'studio' });
    const grant = await tokens.issue(user.accessToken, { participant_name: 'Cluster caller' });
    expect(grant.server_url).toBe(nodeA.url);

    const caller = new ScriptedCaller();
    const joinedAt = Date.now();
    await caller.join(grant.server_url, grant.participant_token);
    try {
      const greeting = await caller.waitForSpeech(joinedAt, 40_000);
      process.stderr.write(
        `[selfhosting-cluster] join → greeting heard across nodes: ${greeting.startedAt - joinedAt} ms\n`,
      );
      await caller.waitForQuiet(1_000);
    } finally {
      await caller.hangUp();
    }
    // The agent (on node B) wrote the greeting to the conversation: it really ran this call.
    const db = serviceClient(stack);
    const deadline = Date.now() + 20_000;
    let contents: string[] = [];
    while (Date.now() < deadline) {
      const { data } = await db
        .from('messages')
        .select('role, content')
        .eq('conversation_id', grant.conversation_id);
      contents = (data ?? []).filter((m) => m.role === 'assistant').map((m) => m.content);
      if (contents.includes(GREETING)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(contents).toContain(GREETING);
  });
});
