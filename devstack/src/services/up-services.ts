import type { StackInfo } from '../stack-info.ts';
import { agentUpService } from './agent-worker.ts';
import { tokenServiceUpService } from './token-service.ts';
import { webClientUpService } from './web-client.ts';

/**
 * Services `npm start` runs on top of the stack (token service, agent worker, provider stand-ins, web client).
 * How the dev stack starts each product process lives here, in the dev stack: the product packages run from their
 * own entry points with configuration from the environment, and never import the dev stack.
 * The CLI starts them in order after the stack is healthy, prints their URLs, and stops them in reverse order
 * before the stack.
 */
export interface UpService {
  name: string;
  start(context: { stack: StackInfo; logDir: string }): Promise<StartedUpService>;
  /** Where livekit-server should POST its webhooks for this service, known before the stack starts. */
  livekitWebhookUrl?: string;
}

export interface StartedUpService {
  /** Lines printed under the service's name, e.g. `token service  http://127.0.0.1:PORT`. */
  urls: Record<string, string>;
  stop(): Promise<void>;
}

// The token service listens on TOKEN_SERVICE_PORT (default 8787, see token-service.ts here), so its webhook
// URL is known before livekit-server starts.
const tokenServicePort = Number(process.env.TOKEN_SERVICE_PORT ?? 8787);

export const UP_SERVICES: UpService[] = [
  {
    ...tokenServiceUpService,
    livekitWebhookUrl: `http://127.0.0.1:${tokenServicePort}/v1/livekit/webhook`,
  },
  // Registers with livekit-server under AGENT_NAME (the token service dispatches that name); without provider keys
  // it runs on the local stand-ins and says so.
  agentUpService,
  // Last: once it prints its URL, a call from the page works end to end.
  webClientUpService,
];
