import { startWebClientServer } from '@voice/web-client/serve';
import type { UpService } from './up-services.ts';

/**
 * The web client for `npm start`: serves the built page on WEB_CLIENT_PORT (default 5173, an origin the token
 * service allows by default) with a /config.json pointing at the stack's gateway and the token service on
 * TOKEN_SERVICE_PORT (default 8787).
 */
export const webClientUpService: UpService = {
  name: 'web client',
  async start({ stack }) {
    const env = process.env;
    const server = await startWebClientServer({
      // For the page's Content-Security-Policy: the only LiveKit the page may connect to.
      livekitUrl: stack.livekit.url,
      port: Number(env.WEB_CLIENT_PORT ?? 5173),
      host: env.WEB_CLIENT_HOST ?? '127.0.0.1',
      config: {
        supabaseUrl: stack.supabaseUrl,
        supabaseAnonKey: stack.anonKey,
        tokenServiceUrl:
          env.WEB_CLIENT_TOKEN_SERVICE_URL ?? `http://127.0.0.1:${env.TOKEN_SERVICE_PORT ?? 8787}`,
        // Without the three provider keys, `npm start` runs the agent on the local stand-ins: say so on the page.
        simulatedProviders: !(env.DEEPGRAM_API_KEY && env.ANTHROPIC_API_KEY && env.OPENAI_API_KEY),
      },
    });
    return { urls: { app: server.url }, stop: () => server.close() };
  },
};
