// A tenant signed up through the API (POST /api/v1/auth/signup: the real path, with its bcrypt
// hash), for suites that need one tenant and its admin's login token.
import { HttpClient } from './http-client.js';

export const BENCH_PASSWORD = 'correct horse battery staple';

export interface SignedUpTenant {
  slug: string;
  tenantId: string;
  userId: string;
  email: string;
  /** The admin's login token. */
  token: string;
}

/** Signs up a tenant `<prefix>-<time>` on the node at `url`; the admin's password is BENCH_PASSWORD. */
export async function signUpTenant(url: string, prefix: string): Promise<SignedUpTenant> {
  const anonymous = new HttpClient(url);
  try {
    const slug = `${prefix}-${Date.now().toString(36)}`;
    const email = `admin@${slug}.example`;
    const signup = await anonymous.json(
      'POST',
      '/api/v1/auth/signup',
      {
        tenant_name: `Bench ${slug}`,
        tenant_slug: slug,
        email,
        password: BENCH_PASSWORD,
        display_name: 'Bench Admin',
      },
      201,
    );
    return { slug, tenantId: signup.data.tenant.id, userId: signup.data.user.id, email, token: signup.data.access_token };
  } finally {
    anonymous.close();
  }
}
