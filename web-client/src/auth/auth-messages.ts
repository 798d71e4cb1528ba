/** Turns supabase-js auth errors into sentences a person can act on (never echoing server internals). */
export function describeAuthError(
  error: { message?: string; status?: number; code?: string } | null,
): string {
  if (!error) return '';
  const code = error.code ?? '';
  const message = (error.message ?? '').toLowerCase();
  if (code === 'invalid_credentials' || message.includes('invalid login credentials')) {
    return 'That email and password do not match. Check them and try again.';
  }
  if (code === 'user_already_exists' || message.includes('already registered')) {
    return 'An account with this email already exists. Sign in instead.';
  }
  if (code === 'weak_password' || message.includes('password should be')) {
    return 'Please choose a longer password (at least 8 characters).';
  }
  if (code === 'email_not_confirmed') return 'Please confirm your email address first (check your inbox).';
  if (code === 'over_request_rate_limit' || error.status === 429) {
    return 'Too many attempts. Please wait a minute and try again.';
  }
  if (code === 'validation_failed' || message.includes('invalid email'))
    return 'Please enter a valid email address.';
  if (code === 'signup_disabled') return 'New sign-ups are closed right now.';
  if (error.status === undefined || error.status === 0 || (error.status >= 500 && error.status < 600)) {
    return 'The sign-in service is not reachable right now. Please try again in a moment.';
  }
  return 'Sign-in did not work. Please check your details and try again.';
}
