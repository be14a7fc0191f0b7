// Black-box HTTP, issue 11 finding 9: the password policy wherever a password is set (signup, user
// create, password change): 12 characters, at most 72 bytes (bcrypt's cut), not easy to guess; and
// no password longer than 72 bytes logs in. A refused password writes nothing.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { assertProblem, created, expectStatus, globalCounts, httpSuite, refusedWriteOf, strongPassword } from './support/http-assertions.js';

const uniq = () => randomUUID().slice(0, 8);

describe('HTTP password policy (issue 11: finding 9)', () => {
  const suite = httpSuite();

  const refusedWrite = refusedWriteOf(
    () => suite.app,
    () => suite.admin,
  );

  describe('password policy (finding 9)', () => {
    const signup = (password: string) => {
      const slug = `pw-${uniq()}`;
      return suite.app
        .client()
        .post('/api/v1/auth/signup', { tenant_name: `Pw ${slug}`, tenant_slug: slug, email: `a@${slug}.example`, password, display_name: 'A' });
    };
    const refusedSignup = async (password: string, detail?: RegExp) => {
      const before = await globalCounts(suite.app.db.knex);
      const res = await signup(password);
      assertProblem(res, 422, { path: 'password', detail });
      assert.deepEqual(await globalCounts(suite.app.db.knex), before, `signup with ${JSON.stringify(password)} wrote something`);
      return res;
    };
    const login = (email: string, password: string) => suite.app.client().post('/api/v1/auth/login', { tenant_slug: suite.admin.slug, email, password });

    const COMMON = ['aaaaaaaaaaaa', 'password1234', 'Password123!', 'qwertyuiop123', 'iloveyou1234', '123456789012', 'letmein12345'];

    it('refuses common and patterned passwords at signup with 422 naming the field', async () => {
      for (const password of COMMON) {
        const res = await refusedSignup(password);
        assert.match(res.body.errors.find((e: { path: string }) => e.path === 'password').message, /easy to guess/);
      }
    });

    it('refuses passwords under 12 characters and over 72 bytes of UTF-8 at signup', async () => {
      await refusedSignup(strongPassword(11));
      await refusedSignup(strongPassword(73));
      // 25 characters but 74 bytes: short in characters, too long for bcrypt.
      await refusedSignup('密码'.repeat(12) + 'é');
    });

    it('applies the same policy when an admin creates a user or changes a password, writing nothing', async () => {
      const email = () => `pw-${uniq()}@example.com`;
      for (const password of [...COMMON.slice(0, 3), strongPassword(11), strongPassword(73)]) {
        await refusedWrite(
          () => suite.admin.client.post('/api/v1/users', { email: email(), display_name: 'P', role: 'viewer', password }),
          422,
          { path: 'password' },
          ['users'],
        );
      }
      const user = await created(suite.admin.client, '/api/v1/users', { email: email(), display_name: 'P', role: 'viewer', password: strongPassword(40) });
      for (const password of [COMMON[0], strongPassword(73)]) {
        await refusedWrite(() => suite.admin.client.patch(`/api/v1/users/${user.id}`, { password }), 422, { path: 'password' }, ['users']);
      }
      const row = await suite.app.db.knex('users').where({ id: user.id }).first('row_version');
      assert.equal(row.row_version, user.row_version, 'a refused password change bumps no version');
    });

    it('lets in a 72-byte password and no longer one that shares its first 72 bytes', async () => {
      const password = strongPassword(72);
      const email = `p72-${uniq()}@example.com`;
      await created(suite.admin.client, '/api/v1/users', { email, display_name: 'P72', role: 'viewer', password });
      expectStatus(await login(email, password), 200);
      for (const longer of [`${password}x`, `${password}${strongPassword(20)}`]) {
        const res = await login(email, longer);
        assertProblem(res, 401);
      }
      // Changing to a longer password sharing the prefix is refused, and the old one still works.
      const id = (await suite.app.db.knex('users').where({ email }).first('id')).id;
      await refusedWrite(() => suite.admin.client.patch(`/api/v1/users/${id}`, { password: `${password}!` }), 422, { path: 'password' }, ['users']);
      expectStatus(await login(email, password), 200);
    });
  });
});
