/**
 * GoTrue-compatible auth server for the local stack and tests (devstack only; production uses Supabase Auth).
 * See server.ts for the options and README-style notes in each module.
 */
export type { OutgoingEmail } from './context.ts';
export type { AuthErrorCode } from './errors.ts';
export type { PrivateSigningJwk, SigningAlgorithm } from './keys.ts';
export { emailTokenHash } from './routes/email-links.ts';
export { migrateAuthSchema } from './schema.ts';
export { type AuthServer, type AuthServerOptions, startAuthServer } from './server.ts';
