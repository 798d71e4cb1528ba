-- Voice limits: the kill switch and the session lifecycle, decided inside Postgres so that any number of token
-- service instances and agent workers agree. Everything here is for the service role only: the functions are
-- security definer with an empty search_path and are not executable by anon/authenticated.

-- ---------------------------------------------------------------------------------------------------------------
-- Kill switch. A missing row means "enabled". The most specific row wins (user > tier > global), so voice can be
-- turned off for everyone, or off globally and on for a tier or a list of users (staged rollout), or off for one
-- abusive user. Flip with SQL or the Supabase dashboard; the next token request sees it, and running calls end at
-- their next lease renewal (renew_voice_session_lease answers false, reason voice_disabled).
-- ---------------------------------------------------------------------------------------------------------------
create table if not exists public.voice_flags (
  scope text not null check (scope in ('global', 'tier', 'user')),
  -- '' for global, a tier name for tier, a user id (text) for user.
  subject text not null default '',
  voice_enabled boolean not null,
  -- Why it was flipped (for operators; never shown to users).
  reason text,
  updated_at timestamptz not null default now(),
  primary key (scope, subject),
  constraint voice_flags_subject_check check (
    (scope = 'global' and subject = '')
    or (scope = 'tier' and subject in ('free', 'core', 'studio'))
    or (scope = 'user' and subject ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
  )
);
alter table public.voice_flags enable row level security;
-- No policies: anon and authenticated can never read or write flags; the service role bypasses RLS.
revoke all on public.voice_flags from public, anon, authenticated;
grant select, insert, update, delete on public.voice_flags to service_role;
insert into public.voice_flags (scope, subject, voice_enabled, reason)
values ('global', '', true, 'initial')
on conflict (scope, subject) do nothing;

-- Rate and monthly-minute queries look at a user's recent sessions.
create index if not exists voice_sessions_user_started_idx on public.voice_sessions (user_id, started_at)
  where started_at is not null;

-- ---------------------------------------------------------------------------------------------------------------
-- Is voice enabled for this user/tier? Most specific flag wins; no flag → enabled.
-- ---------------------------------------------------------------------------------------------------------------
create or replace function public.voice_enabled_for(p_user_id uuid, p_tier text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(
    (select f.voice_enabled from public.voice_flags f where f.scope = 'user' and f.subject = p_user_id::text),
    (select f.voice_enabled from public.voice_flags f where f.scope = 'tier' and f.subject = p_tier),
    (select f.voice_enabled from public.voice_flags f where f.scope = 'global' and f.subject = ''),
    true
  );
$$;

-- A user's tier; no profile row counts as free.
create or replace function public.voice_tier_of(p_user_id uuid)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce((select p.tier from public.profiles p where p.id = p_user_id), 'free');
$$;

-- What a token service caches to shed load while voice is off everywhere (it then answers 503 without calling
-- claim_voice_session). Overrides that turn voice ON for a tier/user disable that shortcut.
create or replace function public.voice_flags_snapshot()
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'global_enabled',
    coalesce((select f.voice_enabled from public.voice_flags f where f.scope = 'global' and f.subject = ''), true),
    'has_enabled_overrides',
    exists (select 1 from public.voice_flags f where f.scope <> 'global' and f.voice_enabled)
  );
$$;

-- ---------------------------------------------------------------------------------------------------------------
-- Ends sessions of a user whose lease ran out (a crashed agent, a lost webhook, a token never used). ended_at is
-- when the lease ran out, not now, so the minutes used are not inflated by when we happened to notice.
-- ---------------------------------------------------------------------------------------------------------------
create or replace function public.expire_voice_session_leases(p_user_id uuid)
returns integer
language sql
security definer
set search_path = ''
as $$
  with expired as (
    update public.voice_sessions s
    set status = 'ended',
        end_reason = 'lease_expired',
        ended_at = s.expires_at,
        duration_seconds = case
          when s.started_at is null then 0
          else greatest(0, extract(epoch from (s.expires_at - s.started_at)))
        end,
        updated_at = now()
    where s.user_id = p_user_id and s.status <> 'ended' and s.expires_at <= now()
    returning 1
  )
  select count(*)::integer from expired;
$$;

-- ---------------------------------------------------------------------------------------------------------------
-- claim_voice_session: the one decision for a token request, atomic per user (transaction-scoped advisory lock
-- on the user id, so concurrent requests through any number of token services queue up here one by one).
-- Order: kill switch → tier → conversation → concurrent sessions → issuance rate → monthly minutes → insert.
-- Returns jsonb: { code, retry_after_seconds?, tier, concurrent_in_use, concurrent_max, issued_last_minute,
--                  monthly_seconds_used, monthly_seconds_max, session? }
-- code: OK | VOICE_DISABLED | TIER_REQUIRED | CONVERSATION_NOT_FOUND | SESSION_LIMIT | RATE_LIMITED | QUOTA_EXCEEDED
-- p_conversation_id null → a new conversation is created (only when the claim succeeds, so a denied request
-- leaves no rows behind).
-- ---------------------------------------------------------------------------------------------------------------
create or replace function public.claim_voice_session(
  p_user_id uuid,
  p_session_id uuid,
  p_room_name text,
  p_conversation_id uuid,
  p_max_concurrent integer,
  p_max_per_minute integer,
  p_monthly_minutes integer,
  p_max_call_seconds integer,
  p_lease_seconds integer
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_tier text;
  v_in_use integer;
  v_issued integer;
  v_used_seconds numeric;
  v_month_start timestamptz := date_trunc('month', now() at time zone 'utc') at time zone 'utc';
  v_monthly_max_seconds integer := p_monthly_minutes * 60;
  v_retry numeric;
  v_conversation_id uuid := p_conversation_id;
  v_session public.voice_sessions;
  v_result jsonb;
begin
  if p_user_id is null or p_session_id is null or p_room_name is null
     or p_max_concurrent < 1 or p_max_per_minute < 1 or p_monthly_minutes < 1
     or p_max_call_seconds < 1 or p_lease_seconds < 1 then
    raise exception 'claim_voice_session: invalid arguments' using errcode = '22023';
  end if;

  perform pg_advisory_xact_lock(hashtextextended('voice_session:' || p_user_id::text, 0));

  select p.tier into v_tier from public.profiles p where p.id = p_user_id;
  v_tier := coalesce(v_tier, 'free');

  perform public.expire_voice_session_leases(p_user_id);

  select count(*)::integer into v_in_use
  from public.voice_sessions s
  where s.user_id = p_user_id and s.status <> 'ended' and s.expires_at > now();

  select count(*)::integer into v_issued
  from public.voice_sessions s
  where s.user_id = p_user_id and s.created_at > now() - interval '1 minute';

  -- Minutes this calendar month (UTC): finished calls by their duration, running calls by their time so far.
  -- Calls that never started (unused tokens) cost nothing.
  select coalesce(sum(
    case
      when s.status = 'ended' then coalesce(s.duration_seconds, 0)
      else greatest(0, extract(epoch from (now() - s.started_at)))
    end), 0)
  into v_used_seconds
  from public.voice_sessions s
  where s.user_id = p_user_id and s.started_at is not null and s.started_at >= v_month_start;

  v_result := jsonb_build_object(
    'tier', v_tier,
    'concurrent_in_use', v_in_use,
    'concurrent_max', p_max_concurrent,
    'issued_last_minute', v_issued,
    'monthly_seconds_used', round(v_used_seconds),
    'monthly_seconds_max', v_monthly_max_seconds
  );

  if not public.voice_enabled_for(p_user_id, v_tier) then
    return v_result || jsonb_build_object('code', 'VOICE_DISABLED');
  end if;

  if v_tier <> 'studio' then
    return v_result || jsonb_build_object('code', 'TIER_REQUIRED');
  end if;

  if v_conversation_id is not null and not exists (
    select 1 from public.conversations c where c.id = v_conversation_id and c.user_id = p_user_id
  ) then
    return v_result || jsonb_build_object('code', 'CONVERSATION_NOT_FOUND');
  end if;

  if v_in_use >= p_max_concurrent then
    -- The earliest a slot can free by itself is when the soonest lease runs out (active calls renew theirs, so
    -- this is a lower bound; a client simply asks again).
    select extract(epoch from (min(s.expires_at) - now())) into v_retry
    from public.voice_sessions s
    where s.user_id = p_user_id and s.status <> 'ended' and s.expires_at > now();
    return v_result || jsonb_build_object(
      'code', 'SESSION_LIMIT',
      'retry_after_seconds', greatest(1, least(60, ceil(coalesce(v_retry, 1))))::integer
    );
  end if;

  if v_issued >= p_max_per_minute then
    -- Once the oldest issuance counted in the window leaves it, one more is allowed.
    select extract(epoch from (min(w.created_at) + interval '1 minute' - now())) into v_retry
    from (
      select s.created_at from public.voice_sessions s
      where s.user_id = p_user_id and s.created_at > now() - interval '1 minute'
      order by s.created_at desc
      limit p_max_per_minute
    ) w;
    return v_result || jsonb_build_object(
      'code', 'RATE_LIMITED',
      'retry_after_seconds', greatest(1, least(60, ceil(coalesce(v_retry, 1))))::integer
    );
  end if;

  if v_used_seconds >= v_monthly_max_seconds then
    return v_result || jsonb_build_object(
      'code', 'QUOTA_EXCEEDED',
      'retry_after_seconds',
      ceil(extract(epoch from ((v_month_start at time zone 'utc' + interval '1 month') at time zone 'utc' - now())))::integer
    );
  end if;

  if v_conversation_id is null then
    insert into public.conversations (user_id, title)
    values (p_user_id, 'Voice call')
    returning id into v_conversation_id;
  else
    update public.conversations set updated_at = now() where id = v_conversation_id;
  end if;

  insert into public.voice_sessions (id, user_id, conversation_id, room_name, status, expires_at, max_call_seconds)
  values (
    p_session_id,
    p_user_id,
    v_conversation_id,
    p_room_name,
    'pending',
    now() + make_interval(secs => p_lease_seconds),
    -- A call never runs past the minutes left this month (concurrent calls may each use the remainder).
    greatest(1, least(p_max_call_seconds, floor(v_monthly_max_seconds - v_used_seconds)::integer))
  )
  returning * into v_session;

  return v_result || jsonb_build_object(
    'code', 'OK',
    'concurrent_in_use', v_in_use + 1,
    'issued_last_minute', v_issued + 1,
    'session', jsonb_build_object(
      'id', v_session.id,
      'room_name', v_session.room_name,
      'conversation_id', v_session.conversation_id,
      'expires_at', v_session.expires_at,
      'max_call_seconds', v_session.max_call_seconds,
      'created_at', v_session.created_at
    )
  );
end;
$$;

-- ---------------------------------------------------------------------------------------------------------------
-- Lifecycle, called by the agent (service role).
-- ---------------------------------------------------------------------------------------------------------------

-- pending → active when the agent has the caller in the room. Idempotent for an active session (renews the lease).
-- ok=false when the session is unknown, ended, or its lease already ran out (its slot may have been reused).
create or replace function public.activate_voice_session(p_session_id uuid, p_lease_seconds integer)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_session public.voice_sessions;
begin
  if p_lease_seconds is null or p_lease_seconds < 1 then
    raise exception 'activate_voice_session: lease must be positive' using errcode = '22023';
  end if;

  select * into v_session from public.voice_sessions where id = p_session_id for update;
  if not found then
    return jsonb_build_object('ok', false, 'status', null, 'reason', 'not_found');
  end if;

  if v_session.status <> 'ended' and v_session.expires_at <= now() then
    update public.voice_sessions s
    set status = 'ended', end_reason = 'lease_expired', ended_at = s.expires_at,
        duration_seconds = case
          when s.started_at is null then 0
          else greatest(0, extract(epoch from (s.expires_at - s.started_at)))
        end,
        updated_at = now()
    where s.id = p_session_id
    returning * into v_session;
  end if;

  if v_session.status = 'ended' then
    return jsonb_build_object('ok', false, 'status', 'ended', 'reason', v_session.end_reason);
  end if;

  -- The kill switch also stops calls that have not started yet.
  if not public.voice_enabled_for(v_session.user_id, public.voice_tier_of(v_session.user_id)) then
    perform public.end_voice_session(p_session_id, 'voice_disabled');
    return jsonb_build_object('ok', false, 'status', 'ended', 'reason', 'voice_disabled');
  end if;

  update public.voice_sessions s
  set status = 'active',
      started_at = coalesce(s.started_at, now()),
      expires_at = now() + make_interval(secs => p_lease_seconds),
      updated_at = now()
  where s.id = p_session_id
  returning * into v_session;

  return jsonb_build_object('ok', true, 'status', v_session.status, 'reason', null);
end;
$$;

-- Keeps a live session's slot. false once the session ended or its lease already ran out (the agent should end
-- the call then: the slot may belong to someone else's new call).
create or replace function public.renew_voice_session_lease(p_session_id uuid, p_lease_seconds integer)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_renewed integer;
  v_user_id uuid;
begin
  if p_lease_seconds is null or p_lease_seconds < 1 then
    raise exception 'renew_voice_session_lease: lease must be positive' using errcode = '22023';
  end if;
  -- The kill switch reaches running calls too: the next renewal after a flip ends the session, and the agent
  -- ends the call when told false.
  select s.user_id into v_user_id
  from public.voice_sessions s
  where s.id = p_session_id and s.status <> 'ended' and s.expires_at > now();
  if v_user_id is not null and not public.voice_enabled_for(v_user_id, public.voice_tier_of(v_user_id)) then
    perform public.end_voice_session(p_session_id, 'voice_disabled');
    return false;
  end if;
  update public.voice_sessions s
  set expires_at = now() + make_interval(secs => p_lease_seconds), updated_at = now()
  where s.id = p_session_id and s.status <> 'ended' and s.expires_at > now();
  get diagnostics v_renewed = row_count;
  return v_renewed > 0;
end;
$$;

-- Ends a session. Idempotent: the first reason wins, later calls report already_ended and change nothing.
-- Unknown ids answer {ended:false, already_ended:false}.
create or replace function public.end_voice_session(p_session_id uuid, p_reason text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_session public.voice_sessions;
begin
  select * into v_session from public.voice_sessions where id = p_session_id for update;
  if not found then
    return jsonb_build_object('ended', false, 'already_ended', false);
  end if;
  if v_session.status = 'ended' then
    return jsonb_build_object('ended', false, 'already_ended', true);
  end if;

  update public.voice_sessions s
  set status = 'ended',
      end_reason = coalesce(nullif(left(p_reason, 64), ''), 'unknown'),
      ended_at = now(),
      duration_seconds = greatest(0, extract(epoch from (now() - coalesce(s.started_at, s.created_at)))),
      updated_at = now()
  where s.id = p_session_id;
  return jsonb_build_object('ended', true, 'already_ended', false);
end;
$$;

-- Service role only.
revoke all on function public.voice_enabled_for(uuid, text) from public, anon, authenticated;
revoke all on function public.voice_flags_snapshot() from public, anon, authenticated;
revoke all on function public.voice_tier_of(uuid) from public, anon, authenticated;
revoke all on function public.expire_voice_session_leases(uuid) from public, anon, authenticated;
revoke all on function public.claim_voice_session(uuid, uuid, text, uuid, integer, integer, integer, integer, integer)
  from public, anon, authenticated;
revoke all on function public.activate_voice_session(uuid, integer) from public, anon, authenticated;
revoke all on function public.renew_voice_session_lease(uuid, integer) from public, anon, authenticated;
revoke all on function public.end_voice_session(uuid, text) from public, anon, authenticated;

grant execute on function public.voice_enabled_for(uuid, text) to service_role;
grant execute on function public.voice_flags_snapshot() to service_role;
grant execute on function public.voice_tier_of(uuid) to service_role;
grant execute on function public.expire_voice_session_leases(uuid) to service_role;
grant execute on function public.claim_voice_session(uuid, uuid, text, uuid, integer, integer, integer, integer, integer)
  to service_role;
grant execute on function public.activate_voice_session(uuid, integer) to service_role;
grant execute on function public.renew_voice_session_lease(uuid, integer) to service_role;
grant execute on function public.end_voice_session(uuid, text) to service_role;
