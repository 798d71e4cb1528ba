-- Row level security: a signed-in user reads only their own rows. Users keep writing their own conversations and
-- text messages (the chat app does); only the service role (which bypasses RLS) writes profiles' tier,
-- voice_sessions and usage_logs.

alter table public.profiles enable row level security;
alter table public.conversations enable row level security;
alter table public.messages enable row level security;
alter table public.usage_logs enable row level security;
alter table public.voice_sessions enable row level security;

grant usage on schema public to anon, authenticated, service_role;
grant select on public.profiles to authenticated;
grant select, insert, update, delete on public.conversations to authenticated;
grant select, insert on public.messages to authenticated;
grant select on public.usage_logs to authenticated;
grant select on public.voice_sessions to authenticated;
grant all on public.profiles, public.conversations, public.messages, public.usage_logs, public.voice_sessions
  to service_role;

drop policy if exists "profiles: read own" on public.profiles;
create policy "profiles: read own" on public.profiles
  for select to authenticated using (id = (select auth.uid()));

drop policy if exists "conversations: read own" on public.conversations;
create policy "conversations: read own" on public.conversations
  for select to authenticated using (user_id = (select auth.uid()));
drop policy if exists "conversations: create own" on public.conversations;
create policy "conversations: create own" on public.conversations
  for insert to authenticated with check (user_id = (select auth.uid()));
drop policy if exists "conversations: update own" on public.conversations;
create policy "conversations: update own" on public.conversations
  for update to authenticated using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
drop policy if exists "conversations: delete own" on public.conversations;
create policy "conversations: delete own" on public.conversations
  for delete to authenticated using (user_id = (select auth.uid()));

drop policy if exists "messages: read own" on public.messages;
create policy "messages: read own" on public.messages
  for select to authenticated using (user_id = (select auth.uid()));
drop policy if exists "messages: write own text into own conversation" on public.messages;
create policy "messages: write own text into own conversation" on public.messages
  for insert to authenticated with check (
    user_id = (select auth.uid())
    and exists (select 1 from public.conversations c where c.id = conversation_id and c.user_id = (select auth.uid()))
  );

drop policy if exists "usage_logs: read own" on public.usage_logs;
create policy "usage_logs: read own" on public.usage_logs
  for select to authenticated using (user_id = (select auth.uid()));

drop policy if exists "voice_sessions: read own" on public.voice_sessions;
create policy "voice_sessions: read own" on public.voice_sessions
  for select to authenticated using (user_id = (select auth.uid()));

-- Every new auth user gets a profile on the free tier, as Supabase projects usually do with a trigger.
-- `on conflict do nothing` lets this live beside an app's own profile trigger.
create or replace function public.create_profile_for_new_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.profiles (id, tier) values (new.id, 'free') on conflict (id) do nothing;
  return new;
end;
$$;

drop trigger if exists on_auth_user_created_create_profile on auth.users;
create trigger on_auth_user_created_create_profile
  after insert on auth.users
  for each row execute function public.create_profile_for_new_user();
