-- end_voice_session recorded a duration for a session that never started (a token never used, a caller who left
-- before the agent came, a call the dispatch watchdog gave up on): now minus created_at. The lease path records
-- 0 for the same case. A call is billed and reported from the moment the agent activated it (started_at); before
-- that there was no call.

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
      duration_seconds = case
        when s.started_at is null then 0
        else greatest(0, extract(epoch from (now() - s.started_at)))
      end,
      updated_at = now()
  where s.id = p_session_id;
  return jsonb_build_object('ended', true, 'already_ended', false);
end;
$$;
