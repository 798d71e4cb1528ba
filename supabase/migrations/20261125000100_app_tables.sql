-- The chat app's tables, as the app already uses them, plus voice_sessions (one row per call).
-- Written to apply both to an empty project and to one that already has profiles, conversations, messages and
-- usage_logs with data: every statement is additive (if not exists / add column if not exists), nothing is dropped,
-- and new constraints on existing tables are added NOT VALID so old rows are never re-checked.

create table if not exists public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  tier text not null default 'free',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table public.profiles add column if not exists tier text not null default 'free';
alter table public.profiles add column if not exists created_at timestamptz not null default now();
alter table public.profiles add column if not exists updated_at timestamptz not null default now();
do $$ begin
  alter table public.profiles add constraint profiles_tier_check check (tier in ('free', 'core', 'studio')) not valid;
exception when duplicate_object then null;
end $$;

create table if not exists public.conversations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  title text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table public.conversations add column if not exists title text;
alter table public.conversations add column if not exists updated_at timestamptz not null default now();
create index if not exists conversations_user_updated_idx on public.conversations (user_id, updated_at desc);

create table if not exists public.messages (
  id uuid primary key default gen_random_uuid(),
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null,
  content text not null,
  type text not null default 'text',
  metadata jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now()
);
alter table public.messages add column if not exists type text not null default 'text';
alter table public.messages add column if not exists metadata jsonb not null default '{}'::jsonb;
do $$ begin
  alter table public.messages add constraint messages_role_check check (role in ('user', 'assistant', 'system')) not valid;
exception when duplicate_object then null;
end $$;
create index if not exists messages_conversation_created_idx on public.messages (conversation_id, created_at);

create table if not exists public.usage_logs (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  feature text not null,
  tokens_used integer not null default 0,
  estimated_cost numeric(12, 6) not null default 0,
  metadata jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now()
);
alter table public.usage_logs add column if not exists metadata jsonb not null default '{}'::jsonb;
create index if not exists usage_logs_user_created_idx on public.usage_logs (user_id, created_at);

-- One row per voice call. A call holds one of the user's concurrent slots while status <> 'ended' and its lease
-- (expires_at) is in the future, so a crashed agent or a lost webhook frees the slot by itself.
create table if not exists public.voice_sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  room_name text not null unique,
  status text not null default 'pending' check (status in ('pending', 'active', 'ended')),
  created_at timestamptz not null default now(),
  started_at timestamptz,
  ended_at timestamptz,
  expires_at timestamptz not null,
  max_call_seconds integer not null check (max_call_seconds > 0),
  -- caller_left | room_finished | max_duration | idle | error | shutdown | lease_expired | invalid_dispatch
  end_reason text,
  duration_seconds numeric(10, 3),
  stt_audio_seconds numeric(12, 3) not null default 0,
  llm_input_tokens integer not null default 0,
  llm_output_tokens integer not null default 0,
  llm_cache_read_tokens integer not null default 0,
  llm_cache_creation_tokens integer not null default 0,
  tts_characters integer not null default 0,
  estimated_cost numeric(12, 6) not null default 0,
  updated_at timestamptz not null default now()
);
create index if not exists voice_sessions_user_live_idx on public.voice_sessions (user_id) where status <> 'ended';
create index if not exists voice_sessions_user_created_idx on public.voice_sessions (user_id, created_at);
