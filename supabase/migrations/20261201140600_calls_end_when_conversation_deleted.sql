-- A call whose conversation the user deletes ends politely instead of writing its turns into nothing. Since
-- 20261201140100 the session survives the deletion with conversation_id NULL. Its next lease renewal (a third of
-- the agent's lease, 20 s by default) answers false and ends the session with end_reason 'conversation_deleted';
-- the agent says goodbye and leaves. (The agent also notices sooner when a message write finds the conversation
-- gone.) A call whose conversation is deleted before the agent arrived is not activated at all.

create or replace function public.renew_voice_session_lease(p_session_id uuid, p_lease_seconds integer)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_renewed integer;
  v_session public.voice_sessions;
begin
  if p_lease_seconds is null or p_lease_seconds < 1 then
    raise exception 'renew_voice_session_lease: lease must be positive' using errcode = '22023';
  end if;
  select * into v_session
  from public.voice_sessions s
  where s.id = p_session_id and s.status <> 'ended' and s.expires_at > now();
  if not found then
    return false;
  end if;
  if v_session.conversation_id is null then
    perform public.end_voice_session(p_session_id, 'conversation_deleted');
    return false;
  end if;
  -- The kill switch reaches running calls too: the next renewal after a flip ends the session, and the agent
  -- ends the call when told false.
  if not public.voice_enabled_for(v_session.user_id, public.voice_tier_of(v_session.user_id)) then
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

  if v_session.conversation_id is null then
    perform public.end_voice_session(p_session_id, 'conversation_deleted');
    return jsonb_build_object('ok', false, 'status', 'ended', 'reason', 'conversation_deleted');
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
