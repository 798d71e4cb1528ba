import { Agent, fetch as undiciFetch } from 'undici';

/**
 * How long an idle connection to a provider's HTTP API (Anthropic, OpenAI) is kept for the next request.
 *
 * Node's fetch (undici) closes an idle connection after 4 s unless the server sent a `Keep-Alive: timeout=` hint.
 * A call's turns are further apart than that (the caller listens to a reply, then speaks), so without a hint every
 * turn opened new TCP+TLS connections to Claude and to the speech API before its first byte could go out: two
 * handshakes on the critical path of every reply. Both APIs sit behind Cloudflare, which keeps an idle HTTP/1.1
 * client connection for 400 s; staying under that means the server does not close a connection we are about to
 * reuse. A shorter hint from a server is still honoured.
 */
export const PROVIDER_KEEP_ALIVE_MS = 300_000;

/** One pool per process: the greeting's speech engine, the session's and Claude's requests all share it. */
const providerDispatcher = new Agent({
  keepAliveTimeout: PROVIDER_KEEP_ALIVE_MS,
  keepAliveMaxTimeout: PROVIDER_KEEP_ALIVE_MS,
});

/**
 * The `fetch` the provider SDK clients use (`new Anthropic({ fetch })`, `new OpenAI({ fetch })`): undici's own fetch
 * on {@link providerDispatcher}. undici's fetch and its Agent come from the same package version, so the pairing
 * does not depend on which undici the running Node bundles.
 */
export const providerFetch = ((input: string | URL | Request, init?: RequestInit) =>
  undiciFetch(input as Parameters<typeof undiciFetch>[0], {
    ...(init as Parameters<typeof undiciFetch>[1]),
    dispatcher: providerDispatcher,
  })) as unknown as typeof globalThis.fetch;
