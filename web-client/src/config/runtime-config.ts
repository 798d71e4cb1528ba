/**
 * What the page learns at runtime from `/config.json`, written by whoever serves the app (serve.ts for `npm start`
 * and tests). Nothing here is secret: the anon key is public by design; the service role key must never appear.
 */
export interface RuntimeConfig {
  supabaseUrl: string;
  supabaseAnonKey: string;
  /** Base URL of the token service; the client POSTs to `${tokenServiceUrl}/v1/token`. */
  tokenServiceUrl: string;
  /** True when the stack runs on provider stand-ins (no real Deepgram/Claude/OpenAI): the page says so loudly. */
  simulatedProviders?: boolean;
  /** Offer "email me a sign-in link" (only where the auth server can send mail). */
  magicLinkEnabled?: boolean;
  /** How long to wait for the agent to join a fresh room before giving up. */
  agentJoinTimeoutSeconds?: number;
}

export class RuntimeConfigError extends Error {
  override readonly name = 'RuntimeConfigError';
}

function requireUrl(raw: Record<string, unknown>, key: keyof RuntimeConfig): string {
  const value = raw[key];
  if (typeof value !== 'string' || value.length === 0) throw new RuntimeConfigError(`${key} is missing`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new RuntimeConfigError(`${key} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new RuntimeConfigError(`${key} must be http(s)`);
  // Trailing slashes would produce `//v1/token`; normalise once here.
  return value.replace(/\/+$/, '');
}

/** Reads the role claim of a Supabase API key (a JWT) without verifying it: only to refuse a service key. */
export function apiKeyRole(key: string): string | undefined {
  const payload = key.split('.')[1];
  if (!payload) return undefined;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const json = JSON.parse(atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), '=')));
    return typeof json?.role === 'string' ? json.role : undefined;
  } catch {
    return undefined;
  }
}

export function parseRuntimeConfig(raw: unknown): RuntimeConfig {
  if (typeof raw !== 'object' || raw === null) throw new RuntimeConfigError('config.json is not an object');
  const input = raw as Record<string, unknown>;
  const supabaseAnonKey = input.supabaseAnonKey;
  if (typeof supabaseAnonKey !== 'string' || supabaseAnonKey.length === 0) {
    throw new RuntimeConfigError('supabaseAnonKey is missing');
  }
  if (apiKeyRole(supabaseAnonKey) === 'service_role') {
    throw new RuntimeConfigError(
      'supabaseAnonKey is a service role key; only the anon key may reach a browser',
    );
  }
  const timeout = input.agentJoinTimeoutSeconds;
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout > 0) || timeout > 300)) {
    throw new RuntimeConfigError('agentJoinTimeoutSeconds must be a number of seconds between 0 and 300');
  }
  return {
    supabaseUrl: requireUrl(input, 'supabaseUrl'),
    supabaseAnonKey,
    tokenServiceUrl: requireUrl(input, 'tokenServiceUrl'),
    simulatedProviders: input.simulatedProviders === true,
    magicLinkEnabled: input.magicLinkEnabled === true,
    agentJoinTimeoutSeconds: typeof timeout === 'number' ? timeout : 30,
  };
}

export async function loadRuntimeConfig(fetchImpl: typeof fetch = fetch): Promise<RuntimeConfig> {
  // The server sends config.json with Cache-Control: no-store, so a redeploy's new config is seen at once.
  const response = await fetchImpl('/config.json');
  if (!response.ok) throw new RuntimeConfigError(`config.json answered ${response.status}`);
  return parseRuntimeConfig(await response.json());
}
