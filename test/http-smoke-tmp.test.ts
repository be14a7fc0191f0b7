import assert from 'node:assert/strict';
import { startTestApp, type TestApp } from './support/server.js';
describe('smoke', () => {
  let t: TestApp;
  before(async () => { t = await startTestApp(); });
  after(async () => { await t?.close(); });
  it('signs up and lists', async () => {
    const a = await t.signup();
    const c = t.client(a.token);
    const r = await c.get('/api/v1/services');
    console.log(r.status, r.text.slice(0, 300));
    const m = await c.get('/api/v1/me');
    console.log(m.status, m.text.slice(0, 300));
  });
});
