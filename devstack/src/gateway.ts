import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GatewayOptions {
  port: number;
  /** The auth server's root (serves what Supabase serves under /auth/v1). */
  authUrl: string;
  /** PostgREST's root (serves what Supabase serves under /rest/v1). */
  restUrl: string;
  /** API keys the gateway accepts in `apikey` (anon and service role), as Supabase's Kong does. */
  apiKeys: readonly string[];
}

export interface RunningGateway {
  url: string;
  stop(): Promise<void>;
}

const ROUTES: readonly { prefix: string; upstream: keyof Pick<GatewayOptions, 'authUrl' | 'restUrl'> }[] = [
  { prefix: '/auth/v1', upstream: 'authUrl' },
  { prefix: '/rest/v1', upstream: 'restUrl' },
];

// Auth endpoints a browser reaches by redirect (email links, OAuth), where no header can be set: open in Kong too.
const OPEN_AUTH_PATHS = ['/auth/v1/verify', '/auth/v1/callback', '/auth/v1/authorize'];

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
  'access-control-expose-headers':
    'content-range, content-location, content-profile, range-unit, x-total-count',
  'access-control-max-age': '3600',
};

/**
 * A small stand-in for Supabase's API gateway (Kong): one origin that routes `/auth/v1/*` to the auth server and
 * `/rest/v1/*` to PostgREST with the prefix removed, passes `apikey` and `Authorization` through, requires a known
 * `apikey` like Supabase does, and answers CORS so browser code using supabase-js works unchanged.
 */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const agent = new http.Agent({ keepAlive: true });
  const upstreams = { authUrl: new URL(options.authUrl), restUrl: new URL(options.restUrl) };

  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        ...CORS_HEADERS,
        'access-control-allow-headers':
          req.headers['access-control-request-headers'] ??
          'authorization, apikey, content-type, x-client-info, prefer, range, accept-profile, content-profile',
      });
      res.end();
      return;
    }
    if (url === '/health') {
      sendJson(res, 200, { ok: true });
      return;
    }
    const route = ROUTES.find(
      (r) => url === r.prefix || url.startsWith(`${r.prefix}/`) || url.startsWith(`${r.prefix}?`),
    );
    if (!route) {
      sendJson(res, 404, { message: 'no Route matched with those values' });
      return;
    }
    const pathname = url.split('?')[0]!;
    const apiKey =
      headerValue(req.headers.apikey) ?? new URL(url, 'http://gateway').searchParams.get('apikey');
    if (!OPEN_AUTH_PATHS.includes(pathname)) {
      if (!apiKey) {
        sendJson(res, 401, {
          message: 'No API key found in request',
          hint: 'Send the anon key in the apikey header.',
        });
        return;
      }
      if (!options.apiKeys.includes(apiKey)) {
        sendJson(res, 401, {
          message: 'Invalid API key',
          hint: 'Double check your Supabase `anon` or `service_role` API key.',
        });
        return;
      }
    }
    const upstream = upstreams[route.upstream];
    const headers = { ...req.headers, host: upstream.host };
    // Like Kong's request transformer: a request with only the apikey acts with that key's role.
    if (!headers.authorization && apiKey) headers.authorization = `Bearer ${apiKey}`;
    delete headers.connection;
    const proxied = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: url.slice(route.prefix.length) || '/',
        headers,
        agent,
      },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, {
          ...upstreamRes.headers,
          ...corsFor(upstreamRes.headers),
        });
        upstreamRes.pipe(res);
      },
    );
    proxied.on('error', () => {
      if (!res.headersSent) sendJson(res, 502, { message: `${route.prefix} upstream is not reachable` });
      else res.destroy();
    });
    req.pipe(proxied);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: options.port }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

function corsFor(headers: http.IncomingHttpHeaders): Record<string, string> {
  // Keep an upstream's own CORS answer if it gave one.
  return headers['access-control-allow-origin'] ? {} : CORS_HEADERS;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', ...CORS_HEADERS });
  res.end(JSON.stringify(body));
}
