import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DAY, now, runCli, writeJson } from '../helpers/cli.js';
import { Client, PASSWORD, addAccount, unmatchedPayment, consoleWorld, type ConsoleWorld } from '../helpers/console.js';
import { engines } from '../helpers/engines.js';

/**
 * The support console over HTTP: accounts made by the CLI, `serve`'s server on 127.0.0.1 (port 0),
 * real requests with cookies, the real SDK against the simulator, and a real database per engine.
 */

/** A self-signed certificate for 127.0.0.1 made by openssl (node:crypto cannot make X.509 certificates). */
function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
      ...[
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

/** One HTTPS request that trusts only `ca` (the test's own certificate): status, Set-Cookie lines, body. */
function httpsRequest(
  url: string,
  ca: string,
  init: { cookie?: string; form?: Record<string, string> } = {},
): Promise<{ status: number; setCookie: string[]; text: string }> {
  const body = init.form ? new URLSearchParams(init.form).toString() : undefined;
  const headers: Record<string, string> = init.cookie ? { cookie: init.cookie } : {};
  if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
  return new Promise((resolve, reject) => {
    const req = request(url, { method: body ? 'POST' : 'GET', ca, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, setCookie: res.headers['set-cookie'] ?? [], text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const ledger = (w: ConsoleWorld) =>
  w.app.query<{ user_id: string; credits: number; actor: string; reason: string }>(
    'SELECT user_id, credits, actor, reason FROM credit_ledger ORDER BY id',
  );

describe.each(engines())('console (%s)', (engine) => {
  describe.concurrent('accounts and sign-in', () => {
    it('console user add stores a scrypt hash, never echoes the password; a bad role is exit 2', async (test) => {
      const w = await consoleWorld(engine, test);
      const added = await w.cli(['console', 'user', 'add', 'jane', '--role', 'support'], `${PASSWORD}\n`);
      expect(added.code, added.stderr).toBe(0);
      expect(added.stdout + added.stderr).not.toContain(PASSWORD);
      const [row] = await w.app.query<{ role: string; password_hash: string }>(
        'SELECT role, password_hash FROM stripe_credits_console_users WHERE name = ?',
        'jane',
      );
      expect(row!.role).toBe('support');
      expect(row!.password_hash).toMatch(/^scrypt\$/);
      expect(row!.password_hash).not.toContain(PASSWORD);

      const bad = await w.cli(['console', 'user', 'add', 'joe', '--role', 'root'], `${PASSWORD}\n`);
      expect(bad.code).toBe(2);
      expect(bad.stderr.split('\n')[0]).toMatch(/--role must be one of viewer, support, admin/);
      const again = await w.cli(['console', 'user', 'add', 'jane', '--role', 'viewer'], `${PASSWORD}\n`);
      expect(again.code).toBe(2);
      const list = await w.cli(['console', 'user', 'list', '--json']);
      expect(JSON.parse(list.stdout).accounts.map((a: { name: string; role: string }) => [a.name, a.role])).toEqual([
        ['jane', 'support'],
      ]);
    });

    it('serve refuses a non-loopback address without TLS or --behind-proxy (exit 2, one line)', async (test) => {
      const w = await consoleWorld(engine, test);
      const r = await w.cli(['serve', '--host', '0.0.0.0', '--port', '0']);
      expect(r.code).toBe(2);
      expect(r.stderr.split('\n')[0]).toMatch(/^stripe-credits: refusing to serve on 0\.0\.0\.0 over plain HTTP/);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    });

    it('serve as a process: listens on 127.0.0.1, logs one line per request on stderr, stops on SIGTERM with 0', async (test) => {
      const w = await consoleWorld(engine, test);
      const served = await w.serveProcess();
      expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await new Client(served.url).request('/login')).status).toBe(200);
      const { code, stderr } = await served.stop();
      expect(code).toBe(0);
      expect(stderr).toMatch(/^\S+Z 127\.0\.0\.1 - GET \/login 200 \d+ms$/m);
    });

    it('serve --tls-cert --tls-key: HTTPS with a real certificate, and the session cookie is Secure', async (test) => {
      const w = await consoleWorld(engine, test);
      await addAccount(w, 'vera', 'viewer');
      const { cert, key } = selfSignedCert(w.dir);
      const served = await w.serveProcess(['--host', '127.0.0.1', '--tls-cert', cert, '--tls-key', key]);
      expect(served.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const ca = readFileSync(cert, 'utf8');
      // Without the certificate trusted, the client refuses it: it is TLS, not plain HTTP.
      await expect(httpsRequest(`${served.url}/login`, '')).rejects.toThrow();
      const login = await httpsRequest(`${served.url}/login`, ca);
      expect(login.status).toBe(200);
      const cookie = login.setCookie.map((c) => c.split(';')[0]).join('; ');
      const signedIn = await httpsRequest(`${served.url}/login`, ca, {
        cookie,
        form: { csrf: Client.csrf(login.text), name: 'vera', password: PASSWORD },
      });
      expect(signedIn.status).toBe(303);
      const session = signedIn.setCookie.find((c) => c.startsWith('sc_session='))!;
      expect(session).toMatch(/; Secure/i);
      expect(session).toMatch(/HttpOnly/);
      const review = await httpsRequest(`${served.url}/review`, ca, { cookie: session.split(';')[0] });
      expect([review.status, review.text.includes('vera (viewer)')]).toEqual([200, true]);
      expect((await served.stop()).code).toBe(0);
    });

    it('nothing without signing in; the session cookie is HttpOnly and SameSite=Strict; sign-out ends it', async (test) => {
      const w = await consoleWorld(engine, test);
      await addAccount(w, 'vera', 'viewer');
      const { url } = await w.serve();
      const c = new Client(url);
      const anonymous = await c.request('/review');
      expect([anonymous.status, anonymous.location]).toEqual([303, '/login']);
      expect((await c.request('/lookup?q=1')).status).toBe(303);

      const wrong = await c.signIn('vera', 'not the password');
      expect(wrong.status).toBe(401);
      const ok = await c.signIn('vera', PASSWORD);
      expect([ok.status, ok.location]).toEqual([303, '/review']);
      const cookie = ok.setCookie.find((s) => s.startsWith('sc_session='))!;
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Strict/);
      expect(cookie).not.toMatch(/Secure/); // plain HTTP on loopback
      const review = await c.request('/review');
      expect(review.status).toBe(200);
      expect(review.text).toContain('vera (viewer)');
      const headers = (await fetch(`${url}/login`)).headers;
      expect(headers.get('content-security-policy')).toMatch(/default-src 'none'/);
      expect(headers.get('cache-control')).toBe('no-store');

      const out = await c.request('/logout', { form: { csrf: Client.csrf(review.text) } });
      expect(out.status).toBe(303);
      expect((await c.request('/review')).status).toBe(303);
      // One line per request, without the cookie or the password.
      expect(w.log.some((l) => / vera POST \/logout 303 /.test(l))).toBe(true);
      expect(w.log.join('\n')).not.toContain(PASSWORD);
    });

    it("a second visit to the sign-in page (another tab, the browser's favicon request) keeps the first form valid", async (test) => {
      const w = await consoleWorld(engine, test);
      await addAccount(w, 'vera', 'viewer');
      const c = new Client((await w.serve()).url);
      const first = await c.request('/login');
      expect((await c.request('/favicon.ico')).status).toBe(204);
      await c.request('/login');
      const r = await c.request('/login', {
        form: { csrf: Client.csrf(first.text), name: 'vera', password: PASSWORD },
      });
      expect(r.status).toBe(303);
    });

    it('five wrong passwords lock the account: the right one is refused then', async (test) => {
      const w = await consoleWorld(engine, test);
      await addAccount(w, 'sam', 'support');
      const c = new Client((await w.serve()).url);
      for (let i = 0; i < 5; i++) expect((await c.signIn('sam', `wrong ${i}`)).status).not.toBe(303);
      const refused = await c.signIn('sam', PASSWORD);
      expect(refused.status).toBe(401);
      expect(w.log.at(-1)).toMatch(/ POST \/login 401 \d+ms \(sign-in refused: account locked\)$/);
      const [row] = await w.app.query<{ locked_until: string | null }>(
        'SELECT locked_until FROM stripe_credits_console_users WHERE name = ?',
        'sam',
      );
      expect(row!.locked_until).not.toBeNull();
      // An operator lifts it.
      expect((await w.cli(['console', 'user', 'unlock', 'sam'])).code).toBe(0);
      expect((await c.signIn('sam', PASSWORD)).status).toBe(303);
    });

    it('a session expires: past its time the cookie opens nothing', async (test) => {
      const w = await consoleWorld(engine, test);
      await addAccount(w, 'vera', 'viewer');
      const c = new Client((await w.serve()).url);
      await c.signIn('vera', PASSWORD);
      const review = await c.request('/review');
      expect(review.status).toBe(200);
      expect(review.text).not.toContain('<script');
      await w.app.exec("UPDATE stripe_credits_console_sessions SET expires_at = '2000-01-01T00:00:00.000Z'");
      expect((await c.request('/review')).status).toBe(303);
    });

    it('console.lockAfterFailures, lockMinutes and sessionHours set the lock and the session from the config file', async (test) => {
      const w = await consoleWorld(engine, test, {
        console: { lockAfterFailures: 2, lockMinutes: 60, sessionHours: 1 },
      });
      await addAccount(w, 'vera', 'viewer');
      await addAccount(w, 'sam', 'support');
      const c = new Client((await w.serve()).url);
      const before = Date.now();
      expect((await c.signIn('sam', 'wrong 1')).status).toBe(401);
      const locked = await c.signIn('sam', 'wrong 2');
      // The same answer as a wrong password (names must not show), with the configured lock in its text.
      expect(locked.status).toBe(401);
      expect(locked.text).toContain('After 2 wrong passwords an account is locked for 60 minutes');
      const [row] = await w.app.query<{ locked_until: string }>(
        "SELECT locked_until FROM stripe_credits_console_users WHERE name = 'sam'",
      );
      const lockedFor = Date.parse(row!.locked_until) - before;
      expect(lockedFor).toBeGreaterThan(59 * 60_000);
      expect(lockedFor).toBeLessThan(61 * 60_000);

      const ok = await c.signIn('vera', PASSWORD);
      expect(ok.setCookie.find((s) => s.startsWith('sc_session='))).toMatch(/Max-Age=3600;/);
      const [session] = await w.app.query<{ created_at: string; expires_at: string }>(
        'SELECT created_at, expires_at FROM stripe_credits_console_sessions',
      );
      expect(Date.parse(session!.expires_at) - Date.parse(session!.created_at)).toBe(3600_000);
      const badConfig = writeJson(join(w.dir, 'bad.json'), { console: { lockMinutes: 0 } });
      const bad = await runCli(['serve', '--port', '0', '--db', w.app.url, '--config', badConfig], { cwd: w.dir });
      expect(bad.code).toBe(2);
      expect(bad.stderr.split('\n')[0]).toMatch(/console\.lockMinutes/);
    });

    it('failed sign-ins are limited per address: past 30 in 15 minutes the form answers 429', async (test) => {
      const w = await consoleWorld(engine, test);
      await addAccount(w, 'vera', 'viewer');
      const c = new Client((await w.serve()).url);
      for (let i = 0; i < 30; i++) expect((await c.signIn(`nobody${i}`, 'guess')).status).toBe(401);
      const r = await c.signIn('vera', PASSWORD);
      expect(r.status).toBe(429);
      // The account itself was never tried: it is not locked.
      expect(await w.app.query('SELECT failed_attempts, locked_until FROM stripe_credits_console_users')).toEqual([
        { failed_attempts: 0, locked_until: null },
      ]);
    });

    it('only secure cookies behind a proxy that says https', async (test) => {
      const w = await consoleWorld(engine, test);
      await addAccount(w, 'vera', 'viewer');
      const c = new Client((await w.serve({ behindProxy: true })).url);
      const login = await c.request('/login', { headers: { 'x-forwarded-proto': 'https' } });
      const r = await c.request('/login', {
        form: { csrf: Client.csrf(login.text), name: 'vera', password: PASSWORD },
        headers: { 'x-forwarded-proto': 'https' },
      });
      expect(r.setCookie.find((s) => s.startsWith('sc_session='))).toMatch(/Secure/);
    });
  });

  describe.concurrent('writes', () => {
    it('a POST without the CSRF token is refused, and writes nothing', async (test) => {
      const w = await consoleWorld(engine, test);
      const pi = await unmatchedPayment(w);
      await addAccount(w, 'sam', 'support');
      const { url } = await w.serve();
      const c = new Client(url);
      expect((await c.signIn('sam', PASSWORD)).status).toBe(303);
      const form = { payment: pi, user: '1', reason: 'ticket 4711' };
      expect((await c.request('/assign', { form })).status).toBe(403);
      expect((await c.request('/assign', { form: { ...form, csrf: 'forged' } })).status).toBe(403);
      expect(await ledger(w)).toEqual([]);
      // The login form needs its token too.
      const anon = new Client(url);
      expect((await anon.request('/login', { form: { name: 'sam', password: PASSWORD } })).status).toBe(403);
    });

    it('a viewer cannot write: the server refuses the POST, not only the page', async (test) => {
      const w = await consoleWorld(engine, test);
      const pi = await unmatchedPayment(w);
      await addAccount(w, 'vera', 'viewer');
      const c = new Client((await w.serve()).url);
      await c.signIn('vera', PASSWORD);
      const review = await c.request('/review');
      expect(review.text).toContain(pi);
      expect(review.text).not.toContain('Assign…');
      const form = { csrf: Client.csrf(review.text), payment: pi, user: '1', reason: 'ticket 4711' };
      const r = await c.request('/assign', { form });
      expect(r.status).toBe(403);
      expect(r.text).toContain('needs support');
      expect(await ledger(w)).toEqual([]);
    });

    it('assign: a preview that writes nothing, then the write, by the signed-in person', async (test) => {
      const w = await consoleWorld(engine, test);
      const pi = await unmatchedPayment(w);
      await addAccount(w, 'sam', 'support');
      const c = new Client((await w.serve()).url);
      await c.signIn('sam', PASSWORD);
      const review = await c.request('/review?reason=no_user');
      expect(review.text).toContain(`/assign?payment=${pi}`);
      const csrf = Client.csrf(review.text);
      const preview = await c.request('/assign/preview', {
        form: { csrf, payment: pi, user: 'ann@example.com', reason: 'ticket 4711: paid with her work address' },
      });
      expect(preview.status, preview.text).toBe(200);
      expect(preview.text).toContain('+25');
      expect(await ledger(w)).toEqual([]);

      const done = await c.request('/assign', {
        form: { csrf, payment: pi, user: 'ann@example.com', reason: 'ticket 4711: paid with her work address' },
      });
      expect(done.status, done.text).toBe(200);
      expect(await ledger(w)).toEqual([
        { user_id: '1', credits: 25, actor: 'sam', reason: 'ticket 4711: paid with her work address' },
      ]);
      // Twice is refused by the core (already credited), shown on the page.
      const again = await c.request('/assign', { form: { csrf, payment: pi, user: '1', reason: 'again' } });
      expect(again.status).toBe(409);
      expect(await ledger(w)).toHaveLength(1);
    });

    it('lookup of a Stripe customer (cus_…) shows the user it belongs to; an unknown one is one clear line', async (test) => {
      const w = await consoleWorld(engine, test);
      const pi = w.sim.store.createCheckoutPayment({
        created: now() - 2 * DAY,
        customer: 'cus_PbX7kQ2mWv4Rz',
        clientReferenceId: '2',
        amount: 1200,
      }).paymentIntent!.id;
      expect((await w.cli(['reconcile', '--since', String(now() - 7 * DAY), '--yes'])).code).toBe(0);
      await addAccount(w, 'vera', 'viewer');
      const { url } = await w.serve();
      const c = new Client(url);
      await c.signIn('vera', PASSWORD);
      const found = await c.request('/lookup?q=cus_PbX7kQ2mWv4Rz');
      expect(found.status, found.text).toBe(200);
      expect(found.text).toContain('href="/user/2"');
      expect(found.text).toMatch(/class="balance"><strong>12<\/strong> credits/);
      expect(found.text).toContain(pi);
      const unknown = await c.request('/lookup?q=cus_Nob0dyKn0ws1');
      expect(unknown.status).toBe(400);
      expect(unknown.text).toContain('no user is known for Stripe customer cus_Nob0dyKn0ws1');
    });

    it("a user's page shows their balance and entries as balance does; a credited payment moves to another user after a preview", async (test) => {
      const w = await consoleWorld(engine, test);
      const pi = w.sim.store.createCheckoutPayment({ created: now() - 2 * DAY, email: 'ann@example.com', amount: 2500 })
        .paymentIntent!.id;
      expect((await w.cli(['reconcile', '--since', String(now() - 7 * DAY), '--yes'])).code).toBe(0);
      await addAccount(w, 'vera', 'viewer');
      await addAccount(w, 'sam', 'support');
      const { url } = await w.serve();
      const viewer = new Client(url);
      await viewer.signIn('vera', PASSWORD);
      expect((await viewer.request('/lookup?q=ann%40example.com')).text).toContain('href="/user/1"');
      const annPage = await viewer.request('/user/1');
      expect(annPage.status).toBe(200);
      expect(annPage.text).toMatch(/class="balance"><strong>25<\/strong> credits/);
      expect(annPage.text).toContain(pi);
      expect(annPage.text).not.toContain('/reassign');
      const form = { payment: pi, user: '2', reason: 'ticket 4712: Ben paid from Ann laptop' };
      const refused = await viewer.request('/reassign', { form: { csrf: Client.csrf(annPage.text), ...form } });
      expect(refused.status).toBe(403);
      expect(await ledger(w)).toHaveLength(1);

      const c = new Client(url);
      await c.signIn('sam', PASSWORD);
      const found = await c.request(`/lookup?q=${pi}`);
      expect(found.text).toContain(`/reassign?payment=${pi}`);
      const csrf = Client.csrf(found.text);
      const preview = await c.request('/reassign/preview', { form: { csrf, ...form } });
      expect(preview.status, preview.text).toBe(200);
      expect(preview.text).toMatch(/href="\/user\/1"[\s\S]*-25[\s\S]*href="\/user\/2"[\s\S]*\+25/);
      expect(await ledger(w)).toHaveLength(1);
      expect((await c.request('/reassign', { form: { csrf, ...form, reason: ' ' } })).status).toBe(400);
      const done = await c.request('/reassign', { form: { csrf, ...form } });
      expect(done.status, done.text).toBe(200);
      expect(done.text).toContain('Moved 25 credits');
      expect((await ledger(w)).slice(1)).toEqual([
        { user_id: '1', credits: -25, actor: 'sam', reason: form.reason },
        { user_id: '2', credits: 25, actor: 'sam', reason: form.reason },
      ]);
      const benPage = await c.request('/user/2');
      const ben = JSON.parse((await w.cli(['balance', '2', '--json'])).stdout);
      expect(benPage.text).toContain(`<strong>${ben.balance}</strong> credits`);
      expect(ben.entries.map((e: { actor: string }) => e.actor)).toEqual(['sam']);
      expect(benPage.text).toContain('<td class="actor">sam</td>');
    });

    it('amounts read as the CLI prints them: a zero-decimal currency (JPY) is whole yen, not divided by 100', async (test) => {
      const w = await consoleWorld(engine, test);
      const pi = w.sim.store.createCheckoutPayment({
        created: now() - 2 * DAY,
        email: 'ann@example.com',
        amount: 1500,
        currency: 'jpy',
      }).paymentIntent!.id;
      expect((await w.cli(['reconcile', '--since', String(now() - 7 * DAY), '--yes'])).code).toBe(3);
      const cliReview = await w.cli(['review']);
      expect(cliReview.stdout).toContain('1500 JPY');
      await addAccount(w, 'vera', 'viewer');
      const c = new Client((await w.serve()).url);
      await c.signIn('vera', PASSWORD);
      const review = await c.request('/review');
      expect(review.text).toContain(pi);
      expect(review.text).toContain('1500 JPY');
      expect(review.text).not.toContain('15.00 JPY');
      expect((await c.request(`/lookup?q=${pi}`)).text).toContain('1500 JPY');
    });

    it('two people assigning one payment at once credit it once', async (test) => {
      const w = await consoleWorld(engine, test);
      const pi = await unmatchedPayment(w);
      await addAccount(w, 'sam', 'support');
      await addAccount(w, 'sue', 'support');
      const { url } = await w.serve();
      const sessions = await Promise.all(
        ['sam', 'sue'].map(async (name) => {
          const c = new Client(url);
          await c.signIn(name, PASSWORD);
          return { c, csrf: Client.csrf((await c.request('/review')).text) };
        }),
      );
      const results = await Promise.all(
        sessions.map(({ c, csrf }, i) =>
          c.request('/assign', { form: { csrf, payment: pi, user: String(i + 1), reason: 'ticket 4711' } }),
        ),
      );
      expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
      const rows = await ledger(w);
      expect(rows).toHaveLength(1);
      expect(['sam', 'sue']).toContain(rows[0]!.actor);
    });

    it('dismiss: a preview, then the entry is closed with who and why', async (test) => {
      const w = await consoleWorld(engine, test);
      const pi = await unmatchedPayment(w);
      await addAccount(w, 'sam', 'support');
      const c = new Client((await w.serve()).url);
      await c.signIn('sam', PASSWORD);
      const review = await c.request('/review');
      expect(review.text).toContain(`/dismiss?payment=${pi}`);
      const form = { csrf: Client.csrf(review.text), payment: pi, reason: 'test purchase by the team' };
      const preview = await c.request('/dismiss/preview', { form });
      expect(preview.status, preview.text).toBe(200);
      const status = () =>
        w.app.query<{ status: string; resolved_by: string | null }>(
          'SELECT status, resolved_by FROM stripe_credits_review WHERE payment_key = ?',
          pi,
        );
      expect(await status()).toEqual([{ status: 'open', resolved_by: null }]);
      expect((await c.request('/dismiss', { form })).status).toBe(200);
      expect(await status()).toEqual([{ status: 'dismissed', resolved_by: 'sam' }]);
      expect(await ledger(w)).toEqual([]);
    });

    it('a refund in review: reverse takes the credits back, dismiss keeps them; both by the signed-in person', async (test) => {
      const w = await consoleWorld(engine, test);
      const buy = (user: string) =>
        w.sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: user, amount: 1000 })
          .paymentIntent!.id;
      const [ann, ben] = [buy('1'), buy('2')];
      const since = String(now() - 7 * DAY);
      expect((await w.cli(['reconcile', '--since', since, '--yes'])).code).toBe(0);
      const reAnn = w.sim.store.refund(ann!, undefined, { created: -60 })!.id;
      const reBen = w.sim.store.refund(ben!, undefined, { created: -60 })!.id;
      expect((await w.cli(['reconcile', '--since', since])).code).toBe(3);
      await addAccount(w, 'sam', 'support');
      const c = new Client((await w.serve()).url);
      await c.signIn('sam', PASSWORD);
      const review = await c.request('/review');
      expect(review.text).toContain(`/reversal?id=${reAnn}&amp;action=reverse`);
      const csrf = Client.csrf(review.text);
      for (const [id, action] of [
        [reAnn, 'reverse'],
        [reBen, 'dismiss'],
      ] as const) {
        const form = { csrf, id, action, reason: `refund approved, ticket ${action}` };
        expect((await c.request('/reversal/preview', { form })).status).toBe(200);
        expect((await c.request('/reversal', { form })).status).toBe(200);
      }
      expect(
        await w.app.query('SELECT user_id, credits, kind, actor FROM credit_ledger WHERE kind = ?', 'reversal'),
      ).toEqual([{ user_id: '1', credits: -10, kind: 'reversal', actor: 'sam' }]);
      expect(
        await w.app.query(
          'SELECT payment_key, status, resolved_by FROM stripe_credits_review WHERE payment_key IN (?, ?) ORDER BY status',
          reBen,
          reAnn,
        ),
      ).toEqual([
        { payment_key: reBen, status: 'dismissed', resolved_by: 'sam' },
        { payment_key: reAnn, status: 'resolved', resolved_by: 'sam' },
      ]);
    });

    it('runs (admin only): the last runs and the 30-day plots of credits written and the review backlog', async (test) => {
      const w = await consoleWorld(engine, test);
      w.sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '2', amount: 1200 });
      await unmatchedPayment(w); // the run credits Ben's 12 and queues one
      await addAccount(w, 'ada', 'admin');
      await addAccount(w, 'sam', 'support');
      const { url } = await w.serve();
      const support = new Client(url);
      await support.signIn('sam', PASSWORD);
      expect((await support.request('/runs')).status).toBe(403);
      const admin = new Client(url);
      await admin.signIn('ada', PASSWORD);
      const runs = await admin.request('/runs');
      expect(runs.status, runs.text).toBe(200);
      expect(runs.text.match(/<svg /g)).toHaveLength(2);
      const today = new Date().toISOString().slice(0, 10);
      // One bar per day; today's: 12 credits written, 1 entry open.
      expect(runs.text.match(/<rect\s/g)).toHaveLength(60);
      expect(runs.text).toContain(`<title>${today}: 12</title>`);
      expect(runs.text).toContain(`<title>${today}: 1</title>`);
      expect(runs.text).toMatch(/<td>1<\/td>\s*<td>[^<]+<\/td>\s*<td>apply \(window\)<\/td>\s*<td>succeeded/);
    });

    it('audit (admin only): an entry Stripe does not back is listed; resolve --reverse writes the correction, by the admin', async (test) => {
      const w = await consoleWorld(engine, test);
      expect((await w.cli(['migrate'])).code).toBe(0);
      const unbacked = 'cs_test_a1HAZt9xslXTTIQrh6bpy0VAq3GZuO2R8UziJdi0Y4mj4TIJZ9RnvIh4TO';
      const written = new Date(Date.now() - 7_200_000).toISOString();
      await w.app.exec(
        `INSERT INTO credit_ledger (user_id, credits, kind, payment_key, checkout_session_id, amount, currency, livemode, actor, created_at)
         VALUES ('1', 500, 'purchase', ?, ?, 5000, 'usd', 0, 'old-webhook', ?)`,
        unbacked,
        unbacked,
        written,
      );
      await addAccount(w, 'ada', 'admin');
      await addAccount(w, 'sam', 'support');
      const { url } = await w.serve();
      const support = new Client(url);
      await support.signIn('sam', PASSWORD);
      expect((await support.request('/audit')).status).toBe(403);
      const c = new Client(url);
      await c.signIn('ada', PASSWORD);
      const list = await c.request('/audit');
      expect(list.status, list.text).toBe(200);
      expect(list.text).toContain('not_found');
      const entry = /\/audit\/resolve\?entry=([^&]+)&amp;reverse=1/.exec(list.text)![1]!;
      const form = {
        csrf: Client.csrf(list.text),
        entry,
        reverse: '1',
        credits: '500',
        user: '1',
        reason: 'no such payment',
      };
      const preview = await c.request('/audit/resolve/preview', { form });
      expect(preview.text).toContain('write a correction entry taking back the 500 credits');
      expect(await w.app.query("SELECT count(*) AS n FROM credit_ledger WHERE kind = 'correction'")).toEqual([
        { n: 0 },
      ]);
      expect((await c.request('/audit/resolve', { form })).status).toBe(200);
      expect(await w.app.query("SELECT user_id, credits, actor FROM credit_ledger WHERE kind = 'correction'")).toEqual([
        { user_id: '1', credits: -500, actor: 'ada' },
      ]);
      expect((await c.request('/audit')).text).not.toContain('not_found');
    });

    it('adjust: support within console.maxAdjustCredits (default 1000), admin without limit', async (test) => {
      const w = await consoleWorld(engine, test);
      await addAccount(w, 'sam', 'support');
      await addAccount(w, 'ada', 'admin');
      const { url } = await w.serve();
      const adjust = async (name: string, credits: string) => {
        const c = new Client(url);
        await c.signIn(name, PASSWORD);
        const csrf = Client.csrf((await c.request('/adjust?user=2')).text);
        const form = { csrf, user: 'ben@example.com', credits, reason: 'goodwill, ticket 4712' };
        const preview = await c.request('/adjust/preview', { form });
        expect(preview.status, preview.text).toBe(200);
        const once = /name="once" value="([^"]+)"/.exec(preview.text)?.[1] ?? '';
        return c.request('/adjust', { form: { ...form, once } });
      };
      const over = await adjust('sam', '+1001');
      expect(over.status).toBe(403);
      expect(over.text).toContain('console.maxAdjustCredits: 1000');
      expect(await ledger(w)).toEqual([]);
      expect((await adjust('sam', '-1000')).status).toBe(303);
      expect((await adjust('ada', '+5000')).status).toBe(303);
      expect(await ledger(w)).toEqual([
        { user_id: '2', credits: -1000, actor: 'sam', reason: 'goodwill, ticket 4712' },
        { user_id: '2', credits: 5000, actor: 'ada', reason: 'goodwill, ticket 4712' },
      ]);
    });
  });
});

// The demo runs on its own SQLite file, whatever the engine: once.
describe('console on the demo', () => {
  it('demo --serve: the console on the demo data, with the demo account it prints', async (test) => {
    const w = await consoleWorld('sqlite', test); // the demo's own database is a SQLite file
    const demo = await w.demoServe();
    const c = new Client(demo.url);
    expect((await c.signIn('demo', demo.password)).status).toBe(303);
    const review = await c.request('/review');
    expect(review.text).toMatch(/open payments?, newest first/);
    expect(review.text).toContain('demo (admin)');
    expect(await demo.stop()).toBe(0);
  });
});
