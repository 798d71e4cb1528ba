-- What the API roles may do, stated once and narrowly. A Supabase project grants anon and authenticated ALL
-- privileges (including TRUNCATE, REFERENCES and TRIGGER) on every table a migration creates in public, and
-- EXECUTE on every function, through its default privileges; row level security then filters rows. RLS does not
-- cover TRUNCATE at all, and a policy mistake would expose every write the grant allows. So on our tables the
-- defaults are revoked and only what the clients use is granted back (the web client and the chat app read their
-- own rows, write their own conversations and their own user messages; everything else is the service role's).
--
-- Only our tables and functions are touched: the chat app may own other tables in public that rely on the
-- project's defaults, and ALTER DEFAULT PRIVILEGES would change them too. A new table of ours revokes the same way
-- (devstack/test/integration/api-privileges.test.ts lists every privilege the API roles hold on public, so one
-- that does not is caught).

revoke all on table
  public.profiles,
  public.conversations,
  public.messages,
  public.usage_logs,
  public.voice_sessions,
  public.voice_flags
from anon, authenticated;

-- Signed-in users: their own rows only (RLS policies in 20261125000200), and only these operations.
grant select on public.profiles to authenticated;
grant select, insert, update, delete on public.conversations to authenticated;
grant select, insert on public.messages to authenticated;
grant select on public.usage_logs to authenticated;
grant select on public.voice_sessions to authenticated;
-- anon (the key every browser holds) gets nothing: signing in comes before any data.

-- Functions: EXECUTE is granted to PUBLIC by Postgres and to the API roles by Supabase's defaults. The voice
-- functions already revoke it (20261125000300); the profile trigger function is security definer and is only
-- meant to run as a trigger.
revoke all on function public.create_profile_for_new_user() from public, anon, authenticated;
