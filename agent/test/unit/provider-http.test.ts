import { createServer } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ListeningServer, listenOnFreePort } from '../../../devstack/src/standins/http.ts';
import { providerFetch } from '../../src/pipeline/provider-http.ts';

/** Longer than undici's idle timeout when a server gives no hint (4 s): the pause between two turns of a call. */
const GAP_BETWEEN_TURNS_MS = 4_500;

let server: ListeningServer;
let url: string;

beforeAll(async () => {
  // Listens the way the provider stand-ins do (idle connections kept 400 s, no `Keep-Alive: timeout=` hint) and
  // answers with the client's port: the same port on two requests means one connection carried both.
  server = await listenOnFreePort(
    createServer((req, res) => res.end(String(req.socket.remotePort))),
    '127.0.0.1',
  );
  url = `http://127.0.0.1:${server.port}/`;
});
afterAll(() => server.close());

/** The client ports of two requests made `GAP_BETWEEN_TURNS_MS` apart. */
async function portsOfTwoTurns(fetchFn: typeof fetch): Promise<[string, string]> {
  const first = await (await fetchFn(url, { method: 'POST', body: '{}' })).text();
  await new Promise((resolve) => setTimeout(resolve, GAP_BETWEEN_TURNS_MS));
  const second = await (await fetchFn(url, { method: 'POST', body: '{}' })).text();
  return [first, second];
}

it('keeps the provider connection open between turns, where Node fetch would open a new one', async () => {
  const [provider, nodeDefault] = await Promise.all([portsOfTwoTurns(providerFetch), portsOfTwoTurns(fetch)]);
  expect(provider[1]).toBe(provider[0]);
  // The control: with Node's defaults the second turn pays for a new connection (a TLS handshake in production).
  expect(nodeDefault[1]).not.toBe(nodeDefault[0]);
}, 15_000);
