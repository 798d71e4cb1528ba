import { type ManagedProcess, spawnManaged } from './managed-process.ts';
import { httpOk, waitForHealth } from './wait-for-health.ts';

export interface LivekitOptions {
  binary: string;
  /** Signal (HTTP/WebSocket) port on 127.0.0.1. */
  port: number;
  /** ICE/TCP port (livekit-server opens it on every interface). */
  tcpPort: number;
  /** ICE/UDP mux port (every non-loopback interface). */
  udpPort: number;
  apiKey: string;
  apiSecret: string;
  /** URLs livekit-server POSTs its webhooks to (signed with the API key above). */
  webhookUrls?: readonly string[];
  logFile: string;
}

export interface RunningLivekit {
  /** ws:// URL clients and SDKs use. */
  url: string;
  httpUrl: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * livekit-server in dev mode on loopback. Ports come from the generated config, never the dev defaults
 * (7880-7882), because several stacks run at once on one machine. `--node-ip 127.0.0.1` keeps it from
 * advertising a public address and adding internet STUN servers.
 */
export async function startLivekit(options: LivekitOptions): Promise<RunningLivekit> {
  // livekit-server parses its config strictly (an unknown key aborts start-up), so keep to documented keys.
  const config = [
    `port: ${options.port}`,
    'rtc:',
    `  tcp_port: ${options.tcpPort}`,
    `  udp_port: ${options.udpPort}`,
    '  use_external_ip: false',
    'keys:',
    `  ${JSON.stringify(options.apiKey)}: ${JSON.stringify(options.apiSecret)}`,
    ...(options.webhookUrls?.length
      ? [
          'webhook:',
          `  api_key: ${JSON.stringify(options.apiKey)}`,
          '  urls:',
          ...options.webhookUrls.map((u) => `    - ${JSON.stringify(u)}`),
        ]
      : []),
    'logging:',
    '  level: info',
    '',
  ].join('\n');
  const child = spawnManaged({
    name: 'livekit-server',
    command: options.binary,
    args: ['--dev', '--bind', '127.0.0.1', '--node-ip', '127.0.0.1', '--config-body', config],
    logFile: options.logFile,
  });
  const httpUrl = `http://127.0.0.1:${options.port}`;
  await waitForHealth({
    what: 'livekit-server',
    check: () => httpOk(`${httpUrl}/`),
    process: child,
    logFile: options.logFile,
  }).catch(async (error: unknown) => {
    await child.stop();
    throw error;
  });
  return { url: `ws://127.0.0.1:${options.port}`, httpUrl, process: child, stop: () => child.stop() };
}
