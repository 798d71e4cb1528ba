export * from './config/shared.ts';
export * from './dispatch.ts';
export * from './env.ts';
export * from './logger.ts';
export * from './supabase.ts';
export * from './token-api.ts';
