import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freeTurnPorts,
  type LivekitNode,
  productionNodeEnv,
  REPO_ROOT,
  type RunningRedis,
  startLivekitNode,
  startRedis,
  type TurnCertificate,
  writeTurnCertificate,
} from '../src/livekit-cluster.ts';

// livekit.yaml and livekit.dev.yaml with the real livekit-server v1.13.5: the files parse strictly (an unknown key
// aborts start-up), the environment supplies keys/Redis/TURN as the header of livekit.yaml says, and the server
// answers. Ports are overridden with free ones (LIVEKIT_PORT, LIVEKIT_RTC_TCP_PORT, UDP_PORT, ...).

const dir = mkdtempSync(join(tmpdir(), 'selfhosting-livekit-'));
const apiKey = `API${randomBytes(6).toString('hex')}`;
const apiSecret = randomBytes(24).toString('base64url'); // 32 chars: LiveKit wants 32+ in production
const turnDomain = 'turn.selfhosting.test';
let redis: RunningRedis;
let turn: TurnCertificate;

function productionEnv(turnPorts: { tls: number; udp: number }): Record<string, string> {
  return productionNodeEnv({ apiKey, apiSecret, redis, turn, turnPorts });
}

/**
 * Starts a node expected to refuse its configuration. livekit-server prints the error and exits by itself
 * (with status 0, so the status says nothing): `exitedByItself` is false if we had to stop it after 20 s.
 */
async function startExpectingFailure(configFile: string, env: Record<string, string>, name: string) {
  const node = await startLivekitNode({
    configFile,
    env,
    logFile: join(dir, `${name}.log`),
    waitUntilHealthy: false,
  });
  let exitedByItself = true;
  const timeout = setTimeout(() => {
    exitedByItself = false;
    void node.stop();
  }, 20_000);
  await node.process.exited;
  clearTimeout(timeout);
  const answered = await fetch(`${node.httpUrl}/`).then(
    () => true,
    () => false,
  );
  return { exitedByItself, answered, log: readFileSync(node.logFile, 'utf8') };
}

beforeAll(async () => {
  turn = writeTurnCertificate(dir, turnDomain);
  redis = await startRedis(dir, randomBytes(12).toString('hex'));
});

afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('livekit.yaml (production) with the real livekit-server', () => {
  let node: LivekitNode;
  let turnPorts: { tls: number; udp: number };

  beforeAll(async () => {
    turnPorts = await freeTurnPorts();
    node = await startLivekitNode({
      configFile: 'livekit.yaml',
      env: productionEnv(turnPorts),
      logFile: join(dir, 'production.log'),
    });
  });
  afterAll(async () => {
    await node?.stop();
  });

  it('starts and answers on its signalling port', async () => {
    const response = await fetch(`${node.httpUrl}/`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('OK');
  });

  it('takes its API key pair from LIVEKIT_KEYS, and rejects another secret', async () => {
    const rooms = new RoomServiceClient(node.httpUrl, apiKey, apiSecret);
    const name = `cfg-${randomBytes(4).toString('hex')}`;
    const created = await rooms.createRoom({ name });
    expect(created.name).toBe(name);
    // Room defaults from livekit.yaml's `room:` block.
    expect(created.emptyTimeout).toBe(120);
    expect(created.departureTimeout).toBe(20);
    expect(created.maxParticipants).toBe(3);
    expect((await rooms.listRooms()).map((r) => r.name)).toContain(name);
    const wrong = new RoomServiceClient(node.httpUrl, apiKey, 'x'.repeat(32));
    await expect(wrong.listRooms()).rejects.toThrow();
    await rooms.deleteRoom(name);
  });

  it('uses the Redis from REDIS_HOST/REDIS_PASSWORD (the multi-node path)', () => {
    const log = node.log();
    expect(log).toContain('connecting to redis');
    expect(log).toContain(redis.address);
    // A node registers itself in Redis: the other nodes find it there.
    const keys = execFileSync('redis-cli', [
      '-h',
      '127.0.0.1',
      '-p',
      redis.address.split(':')[1] as string,
      '--no-auth-warning',
      '-a',
      redis.password,
      'hkeys',
      'nodes',
    ])
      .toString()
      .trim();
    expect(keys).toMatch(/^ND_/m);
  });

  it('serves TURN over TLS with the certificate for LIVEKIT_TURN_DOMAIN, and TURN over UDP', async () => {
    const subject = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect(
        { host: '127.0.0.1', port: turnPorts.tls, servername: turnDomain, rejectUnauthorized: false },
        () => {
          const cert = socket.getPeerCertificate();
          socket.destroy();
          resolve(String(cert.subject?.CN));
        },
      );
      socket.once('error', reject);
    });
    expect(subject).toBe(turnDomain);
    expect(node.log()).toMatch(
      new RegExp(`Starting TURN server.*"turn.portTLS":${turnPorts.tls}.*"turn.portUDP":${turnPorts.udp}`),
    );
  });

  it('exports Prometheus metrics on the configured port', async () => {
    const text = await (await fetch(node.prometheusUrl)).text();
    expect(text).toContain('livekit_');
  });

  it('logs JSON lines (for a log shipper)', () => {
    const firstLine = node.log().split('\n')[0] as string;
    expect(() => JSON.parse(firstLine)).not.toThrow();
  });
});

describe('livekit.yaml refuses to start when misconfigured', () => {
  it('without LIVEKIT_WEBHOOK_API_KEY (webhooks could not be signed)', async () => {
    const env = productionEnv(await freeTurnPorts());
    delete (env as Partial<typeof env>).LIVEKIT_WEBHOOK_API_KEY;
    const { exitedByItself, answered, log } = await startExpectingFailure(
      'livekit.yaml',
      env,
      'no-webhook-key',
    );
    expect(exitedByItself).toBe(true);
    expect(answered).toBe(false);
    expect(log).toMatch(/webhook/i);
  });

  it('without LIVEKIT_KEYS', async () => {
    const env = productionEnv(await freeTurnPorts());
    delete (env as Partial<typeof env>).LIVEKIT_KEYS;
    const { exitedByItself, log } = await startExpectingFailure('livekit.yaml', env, 'no-keys');
    expect(exitedByItself).toBe(true);
    expect(log).toContain('one of key-file or keys must be provided');
  });

  it('with an unknown key in the file (strict parsing, so the passing start above means every key is real)', async () => {
    const broken = join(dir, 'livekit-unknown-key.yaml');
    writeFileSync(
      broken,
      readFileSync(join(REPO_ROOT, 'livekit.yaml'), 'utf8').replace(
        'rtc:\n',
        'rtc:\n  use_external_ipp: true\n',
      ),
    );
    const { exitedByItself, log } = await startExpectingFailure(
      broken,
      productionEnv(await freeTurnPorts()),
      'unknown-key',
    );
    expect(exitedByItself).toBe(true);
    expect(log).toMatch(/could not parse config[\s\S]*use_external_ipp/);
  });
});

describe('livekit.dev.yaml (loopback development)', () => {
  it('starts with its dev key pair and answers on loopback', async () => {
    const node = await startLivekitNode({
      configFile: 'livekit.dev.yaml',
      env: {},
      loopback: false,
      logFile: join(dir, 'dev.log'),
    });
    try {
      const rooms = new RoomServiceClient(node.httpUrl, 'devkey', 'secret');
      const name = `dev-${randomBytes(4).toString('hex')}`;
      await rooms.createRoom({ name });
      expect((await rooms.listRooms([name])).map((r) => r.name)).toEqual([name]);
      // (An open room would hold a graceful shutdown until it empties.)
      await rooms.deleteRoom(name);
      // Advertises loopback only (rtc.node_ip), without asking an internet STUN server.
      expect(node.log()).toMatch(/starting LiveKit server.*nodeIP.{0,4}127\.0\.0\.1/);
    } finally {
      await node.stop();
    }
  });
});
