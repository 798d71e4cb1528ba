-- claim_voice_session, cheaper per grant (issue 16, CPU per token). Same decision, same order, same result; the
-- changes:
-- - The kill switch is read in the function's own statement (the three voice_flags lookups of voice_enabled_for,
--   most specific row wins) instead of through a call to voice_enabled_for: that call was a security-definer SQL
--   function with its own search_path, set up afresh on every grant. voice_enabled_for stays the definition the
--   other functions use; the two must agree (token-service/test/integration/failures.test.ts turns voice off
--   globally, per tier and per user, and on for one user while it is off).
-- - The result is built once per outcome instead of a base object extended with `||` (every jsonb `||` copies
--   the whole object), and the inserted session's columns are returned into variables, not the whole row.

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
  v_enabled boolean;
  v_in_use integer;
  v_any_lapsed boolean;
  v_issued integer;
  v_used_seconds numeric;
  v_month_start timestamptz := date_trunc('month', now() at time zone 'utc') at time zone 'utc';
  v_monthly_max_seconds integer := p_monthly_minutes * 60;
  v_retry numeric;
  v_conversation_id uuid := p_conversation_id;
  v_expires_at timestamptz;
  v_max_call_seconds integer;
  v_created_at timestamptz;
begin
  if p_user_id is null or p_session_id is null or p_room_name is null
     or p_max_concurrent < 1 or p_max_per_minute < 1 or p_monthly_minutes < 1
     or p_max_call_seconds < 1 or p_lease_seconds < 1 then
    raise exception 'claim_voice_session: invalid arguments' using errcode = '22023';
  end if;

  perform pg_advisory_xact_lock(hashtextextended('voice_session:' || p_user_id::text, 0));

  select p.tier into v_tier from public.profiles p where p.id = p_user_id;
  v_tier := coalesce(v_tier, 'free');

  -- One pass over the user's open sessions gives both the slots in use and whether any lease ran out; only then
  -- is the expiry function called (it ends exactly the open sessions with expires_at <= now(), which this count
  -- already leaves out, and now() is fixed for the transaction).
  select count(*) filter (where s.expires_at > now())::integer, coalesce(bool_or(s.expires_at <= now()), false)
  into v_in_use, v_any_lapsed
  from public.voice_sessions s
  where s.user_id = p_user_id and s.status <> 'ended';

  if v_any_lapsed then
    perform public.expire_voice_session_leases(p_user_id);
  end if;

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

  -- The kill switch, as public.voice_enabled_for(p_user_id, v_tier) decides it: user row, else tier row, else the
  -- global row, else on.
  select coalesce(
    (select f.voice_enabled from public.voice_flags f where f.scope = 'user' and f.subject = p_user_id::text),
    (select f.voice_enabled from public.voice_flags f where f.scope = 'tier' and f.subject = v_tier),
    (select f.voice_enabled from public.voice_flags f where f.scope = 'global' and f.subject = ''),
    true
  ) into v_enabled;

  if not v_enabled then
    return jsonb_build_object(
      'code', 'VOICE_DISABLED', 'tier', v_tier, 'concurrent_in_use', v_in_use, 'concurrent_max', p_max_concurrent,
      'issued_last_minute', v_issued, 'monthly_seconds_used', round(v_used_seconds),
      'monthly_seconds_max', v_monthly_max_seconds
    );
  end if;

  if v_tier <> 'studio' then
    return jsonb_build_object(
      'code', 'TIER_REQUIRED', 'tier', v_tier, 'concurrent_in_use', v_in_use, 'concurrent_max', p_max_concurrent,
      'issued_last_minute', v_issued, 'monthly_seconds_used', round(v_used_seconds),
      'monthly_seconds_max', v_monthly_max_seconds
    );
  end if;

  if v_conversation_id is not null and not exists (
    select 1 from public.conversations c where c.id = v_conversation_id and c.user_id = p_user_id
  ) then
    return jsonb_build_object(
      'code', 'CONVERSATION_NOT_FOUND', 'tier', v_tier, 'concurrent_in_use', v_in_use,
      'concurrent_max', p_max_concurrent, 'issued_last_minute', v_issued,
      'monthly_seconds_used', round(v_used_seconds), 'monthly_seconds_max', v_monthly_max_seconds
    );
  end if;

  if v_in_use >= p_max_concurrent then
    -- The earliest a slot can free by itself is when the soonest lease runs out (active calls renew theirs, so
    -- this is a lower bound; a client simply asks again).
    select extract(epoch from (min(s.expires_at) - now())) into v_retry
    from public.voice_sessions s
    where s.user_id = p_user_id and s.status <> 'ended' and s.expires_at > now();
    return jsonb_build_object(
      'code', 'SESSION_LIMIT', 'tier', v_tier, 'concurrent_in_use', v_in_use, 'concurrent_max', p_max_concurrent,
      'issued_last_minute', v_issued, 'monthly_seconds_used', round(v_used_seconds),
      'monthly_seconds_max', v_monthly_max_seconds,
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
    return jsonb_build_object(
      'code', 'RATE_LIMITED', 'tier', v_tier, 'concurrent_in_use', v_in_use, 'concurrent_max', p_max_concurrent,
      'issued_last_minute', v_issued, 'monthly_seconds_used', round(v_used_seconds),
      'monthly_seconds_max', v_monthly_max_seconds,
      'retry_after_seconds', greatest(1, least(60, ceil(coalesce(v_retry, 1))))::integer
    );
  end if;

  if v_used_seconds >= v_monthly_max_seconds then
    return jsonb_build_object(
      'code', 'QUOTA_EXCEEDED', 'tier', v_tier, 'concurrent_in_use', v_in_use, 'concurrent_max', p_max_concurrent,
      'issued_last_minute', v_issued, 'monthly_seconds_used', round(v_used_seconds),
      'monthly_seconds_max', v_monthly_max_seconds,
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
  returning expires_at, max_call_seconds, created_at into v_expires_at, v_max_call_seconds, v_created_at;

  return jsonb_build_object(
    'code', 'OK',
    'tier', v_tier,
    'concurrent_in_use', v_in_use + 1,
    'concurrent_max', p_max_concurrent,
    'issued_last_minute', v_issued + 1,
    'monthly_seconds_used', round(v_used_seconds),
    'monthly_seconds_max', v_monthly_max_seconds,
    'session', jsonb_build_object(
      'id', p_session_id,
      'room_name', p_room_name,
      'conversation_id', v_conversation_id,
      'expires_at', v_expires_at,
      'max_call_seconds', v_max_call_seconds,
      'created_at', v_created_at
    )
  );
end;
$$;
