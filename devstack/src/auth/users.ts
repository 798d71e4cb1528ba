import { randomUUID } from 'node:crypto';
import type pg from 'pg';

/** GoTrue writes the nil instance id into every row it creates (a leftover of multi-instance GoTrue). */
export const NIL_INSTANCE_ID = '00000000-0000-0000-0000-000000000000';

export type Queryable = pg.Pool | pg.PoolClient;
type Json = Record<string, unknown>;

/** A row of auth.users (only the columns this server reads). */
export interface UserRow {
  id: string;
  aud: string | null;
  role: string | null;
  email: string | null;
  encrypted_password: string | null;
  email_confirmed_at: Date | null;
  invited_at: Date | null;
  phone: string | null;
  phone_confirmed_at: Date | null;
  confirmation_token: string | null;
  confirmation_sent_at: Date | null;
  confirmed_at: Date | null;
  recovery_token: string | null;
  recovery_sent_at: Date | null;
  email_change: string | null;
  email_change_sent_at: Date | null;
  last_sign_in_at: Date | null;
  raw_app_meta_data: Json | null;
  raw_user_meta_data: Json | null;
  created_at: Date | null;
  updated_at: Date | null;
  banned_until: Date | null;
  deleted_at: Date | null;
  is_anonymous: boolean;
}

export interface IdentityRow {
  id: string;
  provider_id: string;
  user_id: string;
  identity_data: Json;
  provider: string;
  last_sign_in_at: Date | null;
  created_at: Date | null;
  updated_at: Date | null;
  email: string | null;
}

const iso = (value: Date | null | undefined) => (value ? value.toISOString() : undefined);

/**
 * The user as GoTrue serializes models.User: same keys, same order; `omitempty` timestamps are left out when
 * null; `email`/`phone` are always strings; secrets (password hash, tokens) never appear.
 */
export function userJson(user: UserRow, identities: IdentityRow[]): Json {
  const json: Json = {
    id: user.id,
    aud: user.aud ?? '',
    role: user.role ?? '',
    email: user.email ?? '',
    email_confirmed_at: iso(user.email_confirmed_at),
    invited_at: iso(user.invited_at),
    phone: user.phone ?? '',
    phone_confirmed_at: iso(user.phone_confirmed_at),
    confirmation_sent_at: iso(user.confirmation_sent_at),
    confirmed_at: iso(user.confirmed_at),
    recovery_sent_at: iso(user.recovery_sent_at),
    new_email: user.email_change || undefined,
    email_change_sent_at: iso(user.email_change_sent_at),
    last_sign_in_at: iso(user.last_sign_in_at),
    app_metadata: user.raw_app_meta_data ?? {},
    user_metadata: user.raw_user_meta_data ?? {},
    identities: identities.map(identityJson),
    created_at: iso(user.created_at) ?? new Date(0).toISOString(),
    updated_at: iso(user.updated_at) ?? new Date(0).toISOString(),
    banned_until: iso(user.banned_until),
    deleted_at: iso(user.deleted_at),
    is_anonymous: user.is_anonymous,
  };
  for (const key of Object.keys(json)) if (json[key] === undefined) delete json[key];
  return json;
}

function identityJson(identity: IdentityRow): Json {
  const json: Json = {
    identity_id: identity.id,
    id: identity.provider_id,
    user_id: identity.user_id,
    identity_data: identity.identity_data,
    provider: identity.provider,
    last_sign_in_at: iso(identity.last_sign_in_at) ?? null,
    created_at: iso(identity.created_at) ?? null,
    updated_at: iso(identity.updated_at) ?? null,
  };
  if (identity.email) json.email = identity.email;
  return json;
}

export async function findUserByEmail(
  db: Queryable,
  email: string,
  aud: string,
): Promise<UserRow | undefined> {
  // As models.FindUserByEmailAndAudience: case-insensitive, SSO accounts excluded.
  const { rows } = await db.query<UserRow>(
    'select * from auth.users where lower(email) = lower($1) and aud = $2 and is_sso_user = false limit 1',
    [email, aud],
  );
  return rows[0];
}

export async function findUserById(
  db: Queryable,
  id: string,
  forUpdate = false,
): Promise<UserRow | undefined> {
  if (!isUuid(id)) return undefined;
  const { rows } = await db.query<UserRow>(
    `select * from auth.users where id = $1${forUpdate ? ' for update' : ''}`,
    [id],
  );
  return rows[0];
}

export async function findIdentities(db: Queryable, userId: string): Promise<IdentityRow[]> {
  const { rows } = await db.query<IdentityRow>(
    'select * from auth.identities where user_id = $1 order by created_at, id',
    [userId],
  );
  return rows;
}

export async function userWithIdentities(db: Queryable, user: UserRow): Promise<Json> {
  return userJson(user, await findIdentities(db, user.id));
}

export interface NewUser {
  id?: string;
  email: string;
  aud: string;
  role: string;
  passwordHash: string | null;
  userMetaData: Json;
  appMetaData: Json;
}

/**
 * Creates the user with a plain INSERT (so AFTER INSERT triggers on auth.users fire, as with GoTrue) and its
 * `email` identity. As GoTrue, the identity's data (sub, email, email_verified, phone_verified) is merged into
 * user_metadata. Returns the row as the database holds it after triggers.
 */
export async function insertEmailUser(tx: pg.PoolClient, input: NewUser): Promise<UserRow> {
  const id = input.id ?? randomUUID();
  const email = input.email.toLowerCase();
  const identityData = { sub: id, email, email_verified: false, phone_verified: false };
  const { rows } = await tx.query<UserRow>(
    `insert into auth.users (
       instance_id, id, aud, role, email, encrypted_password, raw_app_meta_data, raw_user_meta_data,
       confirmation_token, recovery_token, email_change_token_new, email_change, created_at, updated_at, is_anonymous
     ) values ($1, $2, $3, $4, $5, $6, $7, $8, '', '', '', '', now(), now(), false)
     returning *`,
    [
      NIL_INSTANCE_ID,
      id,
      input.aud,
      input.role,
      email,
      input.passwordHash ?? '',
      input.appMetaData,
      {
        ...input.userMetaData,
        ...identityData,
      },
    ],
  );
  await tx.query(
    `insert into auth.identities (id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
     values ($1, $2, $3, $4, 'email', now(), now(), now())`,
    [randomUUID(), id, id, identityData],
  );
  return rows[0]!;
}

/** As user.Confirm: sets email_confirmed_at and marks the email verified in user_metadata and the identity. */
export async function confirmEmail(tx: pg.PoolClient, userId: string): Promise<void> {
  await tx.query(
    `update auth.users set email_confirmed_at = coalesce(email_confirmed_at, now()), confirmation_token = '',
       raw_user_meta_data = coalesce(raw_user_meta_data, '{}'::jsonb) || '{"email_verified": true}'::jsonb,
       updated_at = now()
     where id = $1`,
    [userId],
  );
  await tx.query(
    `update auth.identities set identity_data = identity_data || '{"email_verified": true}'::jsonb, updated_at = now()
     where user_id = $1 and provider = 'email'`,
    [userId],
  );
  await tx.query(
    `delete from auth.one_time_tokens where user_id = $1 and token_type = 'confirmation_token'`,
    [userId],
  );
}

/** GoTrue's metadata update rule: keys are merged, a null value removes the key. */
export function mergeMetadata(current: Json | null, updates: Json): Json {
  const merged: Json = { ...(current ?? {}) };
  for (const [key, value] of Object.entries(updates)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

export function isBanned(user: UserRow): boolean {
  return user.banned_until !== null && user.banned_until.getTime() > Date.now();
}

/** An entry in auth.audit_log_entries, shaped like GoTrue's (the Supabase dashboard reads these). */
export async function audit(
  db: Queryable,
  action: string,
  actor: { id: string; email: string | null } | undefined,
  ip: string,
  traits: Json = {},
): Promise<void> {
  const payload = {
    actor_id: actor?.id ?? '',
    actor_username: actor?.email ?? '',
    actor_via_sso: false,
    action,
    log_type: action === 'token_refreshed' || action === 'token_revoked' ? 'token' : 'account',
    traits,
  };
  await db.query(
    `insert into auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) values ($1, $2, $3, now(), $4)`,
    [NIL_INSTANCE_ID, randomUUID(), JSON.stringify(payload), ip.slice(0, 64)],
  );
}
