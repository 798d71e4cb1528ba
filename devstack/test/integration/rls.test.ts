import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { testStack } from '../../src/testing/stack.ts';
import { anonClient, createTestUser, serviceClient, type TestUser } from '../../src/testing/users.ts';

// Row level security as users reach it: supabase-js with the anon key and a user's JWT, through the gateway.
describe('row level security', () => {
  const stack = testStack();
  let alice: TestUser;
  let bob: TestUser;
  let bobConversationId: string;

  beforeAll(async () => {
    [alice, bob] = await Promise.all([createTestUser(stack), createTestUser(stack, { tier: 'studio' })]);
    const created = await bob.client
      .from('conversations')
      .insert({ user_id: bob.id, title: "Bob's" })
      .select('id')
      .single();
    expect(created.error).toBeNull();
    bobConversationId = created.data!.id;
    const message = await bob.client.from('messages').insert({
      conversation_id: bobConversationId,
      user_id: bob.id,
      role: 'user',
      content: 'hello from bob',
    });
    expect(message.error).toBeNull();
  });

  it('shows each user only their own conversations and messages', async () => {
    const own = await bob.client.from('conversations').select('id');
    expect(own.data?.map((r) => r.id)).toContain(bobConversationId);

    const conversations = await alice.client.from('conversations').select('id').eq('id', bobConversationId);
    expect(conversations.error).toBeNull();
    expect(conversations.data).toEqual([]);
    const messages = await alice.client
      .from('messages')
      .select('id')
      .eq('conversation_id', bobConversationId);
    expect(messages.error).toBeNull();
    expect(messages.data).toEqual([]);
  });

  it("does not let a user write into another user's conversation", async () => {
    const asBob = await alice.client
      .from('messages')
      .insert({ conversation_id: bobConversationId, user_id: bob.id, role: 'user', content: 'spoofed' });
    expect(asBob.error?.code).toBe('42501');
    const asSelf = await alice.client
      .from('messages')
      .insert({ conversation_id: bobConversationId, user_id: alice.id, role: 'user', content: 'intruding' });
    expect(asSelf.error?.code).toBe('42501');
    const conversationAsBob = await alice.client
      .from('conversations')
      .insert({ user_id: bob.id, title: 'fake' });
    expect(conversationAsBob.error?.code).toBe('42501');

    const renamed = await alice.client
      .from('conversations')
      .update({ title: 'hijacked' })
      .eq('id', bobConversationId)
      .select();
    expect(renamed.data).toEqual([]);
    const deleted = await alice.client.from('conversations').delete().eq('id', bobConversationId).select();
    expect(deleted.data).toEqual([]);

    // Nothing changed, as the service role sees it.
    const admin = serviceClient(stack);
    const conversation = await admin
      .from('conversations')
      .select('title')
      .eq('id', bobConversationId)
      .single();
    expect(conversation.data?.title).toBe("Bob's");
    const contents = await admin.from('messages').select('content').eq('conversation_id', bobConversationId);
    expect(contents.data?.map((m) => m.content)).toEqual(['hello from bob']);
  });

  it('lets a user neither raise their own tier nor write sessions or usage', async () => {
    await alice.client.from('profiles').update({ tier: 'studio' }).eq('id', alice.id);
    const profile = await serviceClient(stack).from('profiles').select('tier').eq('id', alice.id).single();
    expect(profile.data?.tier).toBe('free');

    const usage = await alice.client
      .from('usage_logs')
      .insert({ user_id: alice.id, feature: 'voice_call', tokens_used: 1, estimated_cost: 0 });
    expect(usage.error?.code).toBe('42501');
    const conversation = await alice.client
      .from('conversations')
      .insert({ user_id: alice.id })
      .select('id')
      .single();
    const session = await alice.client.from('voice_sessions').insert({
      user_id: alice.id,
      conversation_id: conversation.data!.id,
      room_name: `room-${randomUUID()}`,
      expires_at: new Date(Date.now() + 60_000).toISOString(),
      max_call_seconds: 60,
    });
    expect(session.error?.code).toBe('42501');
  });

  it('gives the anon key alone nothing to read', async () => {
    const anon = anonClient(stack);
    // Not even an empty answer: anon holds no privilege on these tables (20261201140200_api_role_privileges).
    for (const table of ['profiles', 'conversations', 'messages', 'usage_logs', 'voice_sessions']) {
      const { data, error } = await anon.from(table).select('*').limit(5);
      expect(error?.code, table).toBe('42501');
      expect(data, table).toBeNull();
    }
    // ... although rows exist.
    const { count } = await serviceClient(stack).from('messages').select('*', { count: 'exact', head: true });
    expect(count).toBeGreaterThan(0);
  });

  it('lets the service role write voice_sessions and usage_logs, which the user then reads', async () => {
    const admin = serviceClient(stack);
    const roomName = `room-${randomUUID()}`;
    const session = await admin
      .from('voice_sessions')
      .insert({
        user_id: bob.id,
        conversation_id: bobConversationId,
        room_name: roomName,
        expires_at: new Date(Date.now() + 60_000).toISOString(),
        max_call_seconds: 600,
      })
      .select('id, status')
      .single();
    expect(session.error).toBeNull();
    expect(session.data?.status).toBe('pending');
    const usage = await admin
      .from('usage_logs')
      .insert({
        user_id: bob.id,
        feature: 'voice_call',
        tokens_used: 42,
        estimated_cost: 0.0123,
        metadata: { session_id: session.data!.id },
      })
      .select('id')
      .single();
    expect(usage.error).toBeNull();

    const bobSessions = await bob.client.from('voice_sessions').select('room_name');
    expect(bobSessions.data).toEqual([{ room_name: roomName }]);
    const bobUsage = await bob.client.from('usage_logs').select('tokens_used');
    expect(bobUsage.data).toEqual([{ tokens_used: 42 }]);
    const aliceView = await alice.client.from('voice_sessions').select('id');
    expect(aliceView.data).toEqual([]);
    const aliceUsage = await alice.client.from('usage_logs').select('id');
    expect(aliceUsage.data).toEqual([]);
  });
});
