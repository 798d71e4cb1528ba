-- Ending a session whose lease ran out was written twice in 20261125000300 (expire_voice_session_leases and
-- activate_voice_session), with the same UPDATE in each; a change to one (what duration a lapsed call is billed)
-- had to be made in both. It now lives in one function that both call, as does the dispatch watchdog
-- (20261201140700).
--
-- ended_at is when the lease ran out, not now, so the minutes used are not inflated by when we happened to notice;
-- a call that never started costs nothing.

create or replace function public.end_voice_session_if_lease_expired(p_session_id uuid)
returns boolean
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
    where s.id = p_session_id and s.status <> 'ended' and s.expires_at <= now()
    returning 1
  )
  select exists (select 1 from expired);
$$;

-- Ends every session of a user whose lease ran out (a crashed agent, a lost webhook, a token never used).
create or replace function public.expire_voice_session_leases(p_user_id uuid)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_session_id uuid;
  v_ended integer := 0;
begin
  for v_session_id in
    select s.id from public.voice_sessions s
    where s.user_id = p_user_id and s.status <> 'ended' and s.expires_at <= now()
  loop
    if public.end_voice_session_if_lease_expired(v_session_id) then
      v_ended := v_ended + 1;
    end if;
  end loop;
  return v_ended;
end;
$$;

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

  if public.end_voice_session_if_lease_expired(p_session_id) then
    select * into v_session from public.voice_sessions where id = p_session_id;
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

revoke all on function public.end_voice_session_if_lease_expired(uuid) from public, anon, authenticated;
grant execute on function public.end_voice_session_if_lease_expired(uuid) to service_role;
