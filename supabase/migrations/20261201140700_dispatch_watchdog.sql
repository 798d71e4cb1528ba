-- The dispatch watchdog's state (token-service/src/dispatch-watchdog/). LiveKit tries an agent dispatch once: when
-- no worker is free at that instant (all at capacity, restarting, or none registered yet) the caller waits in an
-- empty room until the lease runs out. The token service now watches every call whose caller has joined and
-- whose agent has not activated the session: it dispatches again with backoff until a join deadline, then ends the
-- session 'agent_unavailable' (its slot free at once) and closes the room.
--
-- The state lives here, not in a token-service process, so any number of instances share the work and an instance
-- that dies mid-watch loses nothing: each check is claimed with FOR UPDATE SKIP LOCKED and pushed a few seconds
-- ahead while it runs (a claim lease); if the instance holding it dies, another takes the check when that runs out.
-- Sessions are watched by the agent name they were dispatched to, so deployments (or test runs) with different
-- agents sharing one database never dispatch into each other's rooms.

alter table public.voice_sessions add column if not exists agent_name text;
alter table public.voice_sessions add column if not exists caller_joined_at timestamptz;
alter table public.voice_sessions add column if not exists agent_join_deadline timestamptz;
alter table public.voice_sessions add column if not exists dispatch_attempts integer not null default 0;
-- When the watchdog looks at the session next; NULL = not watched (no caller yet, or the watch is over).
alter table public.voice_sessions add column if not exists dispatch_check_at timestamptz;

comment on column public.voice_sessions.agent_name is 'The agent dispatched into the room (the watchdog re-dispatches it).';
comment on column public.voice_sessions.caller_joined_at is 'When the caller first joined the room (LiveKit webhook).';
comment on column public.voice_sessions.agent_join_deadline is
  'The agent must have joined by then, or the session ends with end_reason agent_unavailable.';
comment on column public.voice_sessions.dispatch_attempts is 'Dispatches the watchdog made after the first one.';

-- Only sessions waiting for their agent are ever in this index.
create index if not exists voice_sessions_dispatch_due_idx on public.voice_sessions (dispatch_check_at)
  where status = 'pending' and dispatch_check_at is not null;

-- The caller joined (participant_joined webhook): start watching for the agent. Only the first join of a pending
-- session starts a watch (a reconnect or a second webhook delivery changes nothing). The lease is stretched to
-- cover the deadline, so the slot is held while the caller waits and freed by the watchdog (or, should every
-- token service be down, by the lease shortly after the deadline). A session whose lease already ran out is ended
-- here (the caller joined with a token whose call is over).
-- Returns {watching: bool, status, agent_join_deadline}.
create or replace function public.watch_voice_session_dispatch(
  p_session_id uuid,
  p_agent_name text,
  p_first_check_seconds numeric,
  p_join_timeout_seconds numeric
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_deadline timestamptz;
  v_status text;
begin
  if p_agent_name is null or p_agent_name = '' or p_first_check_seconds is null or p_first_check_seconds <= 0
     or p_join_timeout_seconds is null or p_join_timeout_seconds <= 0 then
    raise exception 'watch_voice_session_dispatch: invalid arguments' using errcode = '22023';
  end if;
  perform public.end_voice_session_if_lease_expired(p_session_id);
  update public.voice_sessions s
  set caller_joined_at = now(),
      agent_name = p_agent_name,
      agent_join_deadline = now() + make_interval(secs => p_join_timeout_seconds),
      dispatch_check_at = now() + make_interval(secs => least(p_first_check_seconds, p_join_timeout_seconds)),
      expires_at = greatest(s.expires_at, now() + make_interval(secs => p_join_timeout_seconds + 30)),
      updated_at = now()
  where s.id = p_session_id and s.status = 'pending' and s.caller_joined_at is null and s.expires_at > now()
  returning s.agent_join_deadline into v_deadline;
  select s.status into v_status from public.voice_sessions s where s.id = p_session_id;
  return jsonb_build_object('watching', v_deadline is not null, 'status', v_status, 'agent_join_deadline', v_deadline);
end;
$$;

-- Up to p_limit due checks of this agent's sessions, each held for p_hold_seconds (no other instance takes it
-- meanwhile). Returns a JSON array of {id, room_name, user_id, conversation_id, max_call_seconds,
-- dispatch_attempts, agent_join_deadline, past_deadline}.
create or replace function public.claim_due_dispatch_checks(
  p_agent_name text,
  p_limit integer,
  p_hold_seconds numeric
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_claimed jsonb;
begin
  if p_limit is null or p_limit < 1 or p_hold_seconds is null or p_hold_seconds <= 0 then
    raise exception 'claim_due_dispatch_checks: invalid arguments' using errcode = '22023';
  end if;
  with due as (
    select s.id
    from public.voice_sessions s
    where s.status = 'pending' and s.dispatch_check_at is not null and s.dispatch_check_at <= now()
      and s.agent_name = p_agent_name
    order by s.dispatch_check_at
    limit p_limit
    for update skip locked
  ),
  claimed as (
    update public.voice_sessions s
    set dispatch_check_at = now() + make_interval(secs => p_hold_seconds)
    from due
    where s.id = due.id
    returning s.id, s.room_name, s.user_id, s.conversation_id, s.max_call_seconds, s.dispatch_attempts,
              s.agent_join_deadline
  )
  select coalesce(jsonb_agg(jsonb_build_object(
    'id', c.id,
    'room_name', c.room_name,
    'user_id', c.user_id,
    'conversation_id', c.conversation_id,
    'max_call_seconds', c.max_call_seconds,
    'dispatch_attempts', c.dispatch_attempts,
    'agent_join_deadline', c.agent_join_deadline,
    'past_deadline', c.agent_join_deadline <= now()
  )), '[]'::jsonb)
  into v_claimed
  from claimed c;
  return v_claimed;
end;
$$;

-- The outcome of one check: p_dispatched counts a new dispatch; p_next_check_seconds NULL ends the watch (the
-- agent is in the room, or the caller left), otherwise schedules the next look.
create or replace function public.record_dispatch_check(
  p_session_id uuid,
  p_dispatched boolean,
  p_next_check_seconds numeric
)
returns void
language sql
security definer
set search_path = ''
as $$
  update public.voice_sessions s
  set dispatch_attempts = s.dispatch_attempts + case when p_dispatched then 1 else 0 end,
      dispatch_check_at = case
        when p_next_check_seconds is null then null
        else now() + make_interval(secs => greatest(p_next_check_seconds, 0))
      end,
      updated_at = now()
  where s.id = p_session_id and s.status = 'pending';
$$;

revoke all on function public.watch_voice_session_dispatch(uuid, text, numeric, numeric) from public, anon, authenticated;
revoke all on function public.claim_due_dispatch_checks(text, integer, numeric) from public, anon, authenticated;
revoke all on function public.record_dispatch_check(uuid, boolean, numeric) from public, anon, authenticated;
grant execute on function public.watch_voice_session_dispatch(uuid, text, numeric, numeric) to service_role;
grant execute on function public.claim_due_dispatch_checks(text, integer, numeric) to service_role;
grant execute on function public.record_dispatch_check(uuid, boolean, numeric) to service_role;
