import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ControlActions {
  stopPostgres(): Promise<void>;
  startPostgres(): Promise<void>;
}

/**
 * Lets failure tests (running in vitest workers) stop and start the database of the stack that lives in the
 * global-setup process. Loopback only; dev stacks only.
 */
export async function startControlServer(
  port: number,
  actions: ControlActions,
): Promise<{ url: string; stop(): Promise<void> }> {
  const routes: Record<string, () => Promise<void>> = {
    'POST /postgres/stop': actions.stopPostgres,
    'POST /postgres/start': actions.startPostgres,
    'GET /health': async () => undefined,
  };
  // Stop/start requests are serialized so a stop racing a start cannot leave the database half-way.
  let queue: Promise<unknown> = Promise.resolve();
  const server = http.createServer((req, res) => {
    req.resume();
    const action = routes[`${req.method} ${(req.url ?? '').split('?')[0]}`];
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (!action) {
      send(404, { error: { code: 'NOT_FOUND', message: 'POST /postgres/stop or /postgres/start' } });
      return;
    }
    const run = queue.then(action, action);
    queue = run.catch(() => undefined);
    run.then(
      () => send(200, { ok: true }),
      (error: unknown) =>
        send(503, {
          error: { code: 'UNAVAILABLE', message: error instanceof Error ? error.message : String(error) },
        }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port }, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
