import http from 'node:http';
import https from 'node:https';

/**
 * POST /rest/v1/rpc/<fn> over node:http with kept-alive connections: what supabase-js's `rpc()` sends (apikey and
 * Authorization with the service role key, a JSON body of named arguments), without its cost. On Node 20,
 * supabase-js goes through the global fetch (undici with web streams, an AbortSignal per call); profiled under
 * load that was ~40 % of the token service's CPU per grant, more than JWT checks and token minting together.
 */
export interface RestRpcReply {
  status: number;
  /** Parsed JSON body; null for an empty body (a void function). */
  body: unknown;
}

export class RestRpcTransportError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'RestRpcTransportError';
  }
}

export type RestRpc = (fn: string, args: Record<string, unknown>, timeoutMs: number) => Promise<RestRpcReply>;

export function createRestRpc(supabaseUrl: string, serviceRoleKey: string): RestRpc {
  const base = new URL(supabaseUrl);
  const secure = base.protocol === 'https:';
  const transport = secure ? https : http;
  // Kept alive: a new TCP (and TLS) connection per call would cost more than the call itself.
  const agent = new transport.Agent({ keepAlive: true });
  const prefix = `${base.pathname.replace(/\/$/, '')}/rest/v1/rpc/`;
  const headers = {
    apikey: serviceRoleKey,
    authorization: `Bearer ${serviceRoleKey}`,
    'content-type': 'application/json',
    accept: 'application/json',
    'x-client-info': 'voice-token-service',
  };

  return (fn, args, timeoutMs) =>
    new Promise<RestRpcReply>((resolve, reject) => {
      const payload = JSON.stringify(args);
      const request = transport.request(
        {
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port || undefined,
          method: 'POST',
          path: prefix + encodeURIComponent(fn),
          headers: { ...headers, 'content-length': Buffer.byteLength(payload) },
          agent,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', (error) => fail(error.message));
          response.on('end', () => {
            clearTimeout(timer);
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve({ status: response.statusCode ?? 0, body: text.length > 0 ? JSON.parse(text) : null });
            } catch {
              reject(new RestRpcTransportError(`status ${response.statusCode}: response is not JSON`));
            }
          });
        },
      );
      // The whole call (connect, send, wait, read) is bounded, not just socket idleness.
      const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
      function fail(detail: string): void {
        clearTimeout(timer);
        request.destroy();
        reject(new RestRpcTransportError(detail));
      }
      request.on('error', (error) => fail(error.message));
      request.end(payload);
    });
}
