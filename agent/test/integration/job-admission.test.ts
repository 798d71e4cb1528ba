import { randomUUID } from 'node:crypto';
import { createServiceClient } from '@voice/core';
import { testStack } from '@voice/devstack/testing/stack';
import { createTestUser, serviceClient } from '@voice/devstack/testing/users';
import { beforeAll, describe, expect, it } from 'vitest';
import { admitJob } from '../../src/job-admission.ts';

// The worker's decision on each job LiveKit offers, against the real database: a job for a session that is over is
// refused before any job process connects or calls a provider.
const stack = testStack();
const db = serviceClient(stack);
let userId: string;
let conversationId: string;

beforeAll(async () => {
  const user = await createTestUser(stack, { tier: 'studio' });
  userId = user.id;
  const { data } = await db.from('conversations').insert({ user_id: userId }).select('id').single();
  conversationId = data!.id;
});

async function session(fields: Record<string, unknown> = {}): Promise<string> {
  const id = randomUUID();
  const { error } = await db.from('voice_sessions').insert({
    id,
    user_id: userId,
    conversation_id: conversationId,
    room_name: `voice-${id}`,
    expires_at: new Date(Date.now() + 60_000).toISOString(),
    max_call_seconds: 600,
    ...fields,
  });
  if (error) throw new Error(error.message);
  return id;
}

const metadataFor = (sessionId: string) =>
  JSON.stringify({
    v: 1,
    session_id: sessionId,
    user_id: userId,
    conversation_id: conversationId,
    max_call_seconds: 600,
  });

describe('admitJob', () => {
  it('takes a job for a pending or active session', async () => {
    const pending = await session();
    expect(await admitJob(db, metadataFor(pending))).toEqual({ accept: true, sessionId: pending });
    const active = await session({ status: 'active', started_at: new Date().toISOString() });
    expect(await admitJob(db, metadataFor(active))).toEqual({ accept: true, sessionId: active });
  });

  it('refuses a session that ended, whose lease ran out, or that does not exist', async () => {
    const ended = await session({
      status: 'ended',
      end_reason: 'caller_left',
      ended_at: new Date().toISOString(),
    });
    expect(await admitJob(db, metadataFor(ended))).toEqual({ accept: false, reason: 'session_ended' });
    const lapsed = await session({ expires_at: new Date(Date.now() - 60_000).toISOString() });
    expect(await admitJob(db, metadataFor(lapsed))).toEqual({ accept: false, reason: 'lease_expired' });
    expect(await admitJob(db, metadataFor(randomUUID()))).toEqual({
      accept: false,
      reason: 'session_unknown',
    });
  });

  it('refuses a dispatch without our metadata', async () => {
    for (const metadata of [undefined, '', 'not json', JSON.stringify({ session_id: randomUUID() })]) {
      expect(await admitJob(db, metadata)).toEqual({ accept: false, reason: 'invalid_dispatch' });
    }
  });

  it('takes the job when the database does not answer (the job checks the session again when it starts)', async () => {
    const unreachable = createServiceClient('http://127.0.0.1:9', stack.serviceRoleKey);
    const id = randomUUID();
    expect(await admitJob(unreachable, metadataFor(id))).toEqual({
      accept: true,
      sessionId: id,
      unverified: true,
    });
  });
});
