import { createHash } from 'node:crypto';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * RFC 4122 version-5 UUID (SHA-1 of namespace + name). The same (namespace, name) always gives the same id, so a
 * row written twice (a retry, a second shutdown path) lands on the same primary key and an upsert keeps one row.
 */
export function uuidV5(namespace: string, name: string): string {
  if (!UUID_RE.test(namespace)) throw new Error('uuidV5: namespace must be a UUID');
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50; // version 5
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 4122 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The `messages.id` of one transcript item of a call (item ids are unique within a session). */
export function messageIdFor(sessionId: string, itemId: string): string {
  return uuidV5(sessionId, `message:${itemId}`);
}

/** The one `usage_logs.id` of a call. */
export function usageLogIdFor(sessionId: string): string {
  return uuidV5(sessionId, 'usage_log');
}
