import { loadTokenServiceConfig, type TokenServiceConfig } from '@voice/core/config/token-service';

/** A token-service config from explicit values, through the same env parsing the process uses. */
export function testConfig(values: {
  supabaseUrl: string;
  serviceRoleKey: string;
  jwtSecret: string;
  livekit: { url: string; apiKey: string; apiSecret: string };
  env?: Record<string, string>;
}): TokenServiceConfig {
  return loadTokenServiceConfig({
    LOG_LEVEL: 'warn',
    SUPABASE_URL: values.supabaseUrl,
    SUPABASE_SERVICE_ROLE_KEY: values.serviceRoleKey,
    SUPABASE_JWT_SECRET: values.jwtSecret,
    LIVEKIT_URL: values.livekit.url,
    LIVEKIT_API_KEY: values.livekit.apiKey,
    LIVEKIT_API_SECRET: values.livekit.apiSecret,
    PORT: '0',
    ...values.env,
  });
}
