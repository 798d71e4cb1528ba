-- Only the service role writes assistant (and system) messages. A signed-in user could insert role 'assistant'
-- rows into their own conversation, and the agent loads a conversation's recent messages into Claude's context as
-- Claude's own earlier words: a forged reply there is a prompt injection with Claude's voice. Users write their
-- own 'user' turns (the chat app's text chat); the agent and the chat app's server write the replies with the
-- service role, which bypasses RLS.

drop policy if exists "messages: write own text into own conversation" on public.messages;
drop policy if exists "messages: write own user turns into own conversation" on public.messages;
create policy "messages: write own user turns into own conversation" on public.messages
  for insert to authenticated with check (
    role = 'user'
    and user_id = (select auth.uid())
    and exists (select 1 from public.conversations c where c.id = conversation_id and c.user_id = (select auth.uid()))
  );
