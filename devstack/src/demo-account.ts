import { createServiceClient } from '@voice/core';
import type { StackInfo } from './stack-info.ts';

/**
 * A Studio-tier account that `npm start` makes sure exists, so a newcomer can sign in and call right away.
 * New sign-ups get the free tier (as in production) and see the upgrade message instead of a call.
 * Local stack only: the password is public.
 */
export const DEMO_ACCOUNT = { email: 'demo@voice.local', password: 'demo-studio-password' } as const;

export async function ensureDemoAccount(stack: StackInfo): Promise<typeof DEMO_ACCOUNT> {
  const admin = createServiceClient(stack.supabaseUrl, stack.serviceRoleKey);
  const created = await admin.auth.admin.createUser({ ...DEMO_ACCOUNT, email_confirm: true });
  let userId = created.data.user?.id;
  if (!userId) {
    // Kept data dir: the account is there from an earlier run.
    if (created.error?.code !== 'email_exists' && created.error?.status !== 422) {
      throw new Error(`could not create the demo account: ${created.error?.message ?? 'no user returned'}`);
    }
    const listed = await admin.auth.admin.listUsers({ perPage: 1000 });
    userId = listed.data.users.find((user) => user.email === DEMO_ACCOUNT.email)?.id;
    if (!userId) throw new Error('the demo account exists but could not be found');
  }
  // The profile row comes from the auth.users trigger; voice calls need the studio tier.
  const { error } = await admin.from('profiles').upsert({ id: userId, tier: 'studio' });
  if (error) throw new Error(`could not set the demo account's tier: ${error.message}`);
  return DEMO_ACCOUNT;
}
