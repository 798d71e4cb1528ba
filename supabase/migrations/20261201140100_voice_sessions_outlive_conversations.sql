-- The limits (concurrent calls, issuance rate, monthly minutes) count voice_sessions rows. Those rows used to be
-- deleted with their conversation (ON DELETE CASCADE), and users may delete their own conversations: one
-- PostgREST DELETE with the user's own token gave back every limit, monthly minutes included.
--
-- A session now outlives its conversation: the reference is set to NULL instead, and the row (user, times,
-- duration, usage totals) stays. voice_sessions is a ledger no user action reaches: users have no write grant on it
-- (20261201140200), and the only cascade left is from auth.users, which users cannot delete themselves (deleting an
-- account is an operator's job and removes its ledger with it, on purpose).
--
-- A live call whose conversation is deleted ends politely (20261201140600): its next lease renewal answers false
-- with end_reason 'conversation_deleted', and the agent says goodbye instead of writing turns into nothing.

alter table public.voice_sessions alter column conversation_id drop not null;

alter table public.voice_sessions drop constraint if exists voice_sessions_conversation_id_fkey;
alter table public.voice_sessions
  add constraint voice_sessions_conversation_id_fkey
  foreign key (conversation_id) references public.conversations (id) on delete set null;

comment on column public.voice_sessions.conversation_id is
  'The conversation the call continues; NULL once the user deleted it (the session stays: limits count it).';
