import { randomBytes, scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DAY, now } from '../helpers/cli.js';
import { Client, PASSWORD, addAccount, consoleWorld } from '../helpers/console.js';
import { engines } from '../helpers/engines.js';

/**
 * The console's defences under misuse, over HTTP against `serve`'s server on 127.0.0.1: concurrent
 * guessing, repeated confirms, forged proxy headers, oversized bodies, forged log lines.
 */

/** Sign-in forms, each with its own CSRF cookie, ready to be posted at once. */
async function loginForms(url: string, n: number) {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const c = new Client(url);
      return { c, csrf: Client.csrf((await c.request('/login')).text) };
    }),
  );
}

describe.each(engines())('console security (%s)', (engine) => {
  describe.concurrent('sign-in', () => {
    it('concurrent wrong passwords: at most five are checked, then the account is locked, the right one refused', async (test) => {
      const w = await consoleWorld(engine, test);
      await addAccount(w, 'sam', 'support');
      const { url } = await w.serve();
      const forms = await loginForms(url, 20);
      const results = await Promise.all(
        forms.map(({ c, csrf }, i) => c.request('/login', { form: { csrf, name: 'sam', password: `wrong ${i}` } })),
      );
      expect(results.filter((r) => r.status === 303)).toEqual([]);
      // The log says why each was refused: "wrong password" is a checked password that did not lock.
      expect(w.log.filter((l) => l.includes('(sign-in refused: wrong password)')).length).toBeLessThanOrEqual(4);
      expect(w.log.filter((l) => l.includes('(sign-in refused: account locked)')).length).toBeGreaterThanOrEqual(1);
      const [row] = await w.app.query<{ locked_until: string | null }>(
        'SELECT locked_until FROM stripe_credits_console_users WHERE name = ?',
        'sam',
      );
      expect(row!.locked_until).not.toBeNull();
      expect((await new Client(url).signIn('sam', PASSWORD)).status).not.toBe(303);
    });

    it('a locked account and an unknown name get the same answer; the log tells the operator which', async (test) => {
      const w = await consoleWorld(engine, test);
      await addAccount(w, 'sam', 'support');
      const c = new Client((await w.serve()).url);
      for (let i = 0; i < 5; i++) await c.signIn('sam', `wrong ${i}`);
      const locked = await c.signIn('sam', PASSWORD);
      const unknown = await c.signIn('nobody', PASSWORD);
      expect([locked.status, unknown.status]).toEqual([401, 401]);
      const said = (text: string) => /role="alert">([^<]*)</.exec(text)?.[1];
      expect(said(locked.text)).toBe(said(unknown.text));
      expect(w.log.filter((l) => l.includes('POST /login 401')).map((l) => /\(([^)]+)\)$/.exec(l)?.[1])).toEqual([
        ...Array(4).fill('sign-in refused: wrong password'),
        'sign-in refused: account locked',
        'sign-in refused: account locked',
        'sign-in refused: no such account',
      ]);
      const list = await w.cli(['console', 'user', 'list', '--json']);
      expect(JSON.parse(list.stdout).accounts[0].lockedUntil).not.toBeNull();
    });

    it("a password hash keeps scrypt's cost (N=2^15); a hash from before, without it, still signs in", async (test) => {
      const w = await consoleWorld(engine, test);
      await addAccount(w, 'sam', 'support');
      const [row] = await w.app.query<{ password_hash: string }>(
        'SELECT password_hash FROM stripe_credits_console_users',
      );
      expect(row!.password_hash).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
      // The first format: scrypt$salt$hash with Node's defaults (N=2^14, r=8, p=1).
      const salt = randomBytes(16);
      const legacy = `scrypt$${salt.toString('base64')}$${scryptSync(PASSWORD, salt, 32).toString('base64')}`;
      await w.app.exec('UPDATE stripe_credits_console_users SET password_hash = ?', legacy);
      const c = new Client((await w.serve()).url);
      expect((await c.signIn('sam', 'not the password')).status).toBe(401);
      expect((await c.signIn('sam', PASSWORD)).status).toBe(303);
    });

    it('a big body is refused before sign-in; an overlong password is neither hashed nor counted', async (test) => {
      const w = await consoleWorld(engine, test);
      await addAccount(w, 'sam', 'support');
      const c = new Client((await w.serve()).url);
      const csrf = Client.csrf((await c.request('/login')).text);
      const big = await c.request('/login', { form: { csrf, name: 'sam', password: 'x'.repeat(100_000) } });
      expect(big.status).toBe(413);
      const long = await c.request('/login', { form: { csrf, name: 'sam', password: 'x'.repeat(2000) } });
      expect(long.status).toBe(401);
      expect(await w.app.query('SELECT failed_attempts FROM stripe_credits_console_users')).toEqual([
        { failed_attempts: 0 },
      ]);
      const add = await w.cli(['console', 'user', 'add', 'joe', '--role', 'viewer'], `${'y'.repeat(2000)}\n`);
      expect(add.code).toBe(2);
      expect(add.stderr.split('\n')[0]).toContain('at most 1024 characters');
    });
  });

  describe.concurrent('behind a proxy', () => {
    it('X-Forwarded-For counts only from a trusted proxy; cookies are Secure behind any proxy', async (test) => {
      const w = await consoleWorld(engine, test);
      const forged = { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'http' };
      // The proxy is elsewhere: this client on 127.0.0.1 is not it, whatever its headers say.
      const elsewhere = await new Client(
        (await w.serve({ behindProxy: true, trustedProxies: ['192.0.2.0/24'] })).url,
      ).request('/login', { headers: forged });
      expect(elsewhere.setCookie.find((s) => s.startsWith('sc_login='))).toMatch(/Secure/);
      // The default: a proxy on this machine, whose header is believed.
      const local = new Client((await w.serve({ behindProxy: true })).url);
      expect((await local.request('/favicon.ico', { headers: forged })).status).toBe(204);
      expect(w.log.filter((l) => / GET \/login /.test(l))).toEqual([expect.stringMatching(/Z 127\.0\.0\.1 - GET/)]);
      expect(w.log.filter((l) => / GET \/favicon\.ico /.test(l))).toEqual([
        expect.stringMatching(/Z 203\.0\.113\.7 - GET/),
      ]);
      // A forged line in the path or, through the proxy, in the forwarded address: still one line each.
      const forge = '2026-01-01T00:00:00.000Z 127.0.0.1 ada POST /adjust 303 1ms';
      await local.request(`/review%0a${encodeURIComponent(forge)}`);
      await local.request('/login', { headers: { 'x-forwarded-for': `198.51.100.1 ada POST /adjust` } });
      expect(w.log.filter((l) => l.includes('\n') || / ada POST /.test(l))).toEqual([]);
      expect(w.log).toContainEqual(
        expect.stringMatching(/ 198\.51\.100\.1\\x20ada\\x20POST\\x20\/adjust - GET \/login /),
      );
      expect(w.log).toContainEqual(expect.stringMatching(/ GET \/review%0a2026-01-01T00%3A/));
      const bad = await w.cli(['serve', '--behind-proxy', '--trusted-proxy', '10.0.0.1,not-an-ip', '--port', '0']);
      expect(bad.code).toBe(2);
      expect(bad.stderr.split('\n')[0]).toContain(
        "--trusted-proxy: not an IP address or ADDR/BITS network: 'not-an-ip'",
      );
    });
  });

  describe.concurrent('writes', () => {
    it("the runs page masks a run's error as the CLI does: a database password never reaches a page", async (test) => {
      const w = await consoleWorld(engine, test);
      expect((await w.cli(['migrate'])).code).toBe(0);
      const started = new Date(Date.now() - 3_600_000).toISOString();
      await w.app.exec(
        `INSERT INTO stripe_credits_runs (mode, since, until, status, started_at, finished_at, actor, error)
         VALUES ('apply', ?, ?, 'failed', ?, ?, 'cron', ?)`,
        started,
        started,
        started,
        started,
        'connect ECONNREFUSED postgres://credits:Hunter2-secret@db.internal/app',
      );
      await addAccount(w, 'ada', 'admin');
      const c = new Client((await w.serve()).url);
      await c.signIn('ada', PASSWORD);
      const runs = await c.request('/runs');
      expect(runs.status, runs.text).toBe(200);
      expect(runs.text).toContain('connect ECONNREFUSED postgres://credits:***@db.internal/app');
      expect(runs.text).not.toContain('Hunter2');
    });

    it("support's per-action limit covers the credits an assign or a reverse moves; admin has none", async (test) => {
      const w = await consoleWorld(engine, test);
      const pi = w.sim.store.createCheckoutPayment({
        created: now() - DAY,
        email: 'ann.work@example.org',
        amount: 150000,
      }).paymentIntent!.id;
      const since = String(now() - 7 * DAY);
      expect((await w.cli(['reconcile', '--since', since, '--yes'])).code).toBe(3);
      await addAccount(w, 'sam', 'support');
      await addAccount(w, 'ada', 'admin');
      const { url } = await w.serve();
      const as = async (name: string) => {
        const c = new Client(url);
        await c.signIn(name, PASSWORD);
        return { c, csrf: Client.csrf((await c.request('/review')).text) };
      };
      const sam = await as('sam');
      const assign = { csrf: sam.csrf, payment: pi, user: '1', reason: 'ticket 4711' };
      expect((await sam.c.request('/assign/preview', { form: assign })).text).toContain('More than your limit of 1000');
      const refused = await sam.c.request('/assign', { form: assign });
      expect(refused.status).toBe(403);
      expect(refused.text).toContain('console.maxAdjustCredits: 1000');
      expect(await w.app.query('SELECT credits FROM credit_ledger')).toEqual([]);
      const ada = await as('ada');
      expect((await ada.c.request('/assign', { form: { ...assign, csrf: ada.csrf } })).status).toBe(200);
      // Moving those 1,500 credits to another user hands them to whoever is named: the same limit.
      const move = { csrf: sam.csrf, payment: pi, user: '2', reason: 'ticket 4712' };
      expect((await sam.c.request('/reassign/preview', { form: move })).text).toContain('More than your limit of 1000');
      const moveRefused = await sam.c.request('/reassign', { form: move });
      expect(moveRefused.status).toBe(403);
      expect(moveRefused.text).toContain('console.maxAdjustCredits: 1000');
      expect(await w.app.query('SELECT user_id, credits FROM credit_ledger')).toEqual([
        { user_id: '1', credits: 1500 },
      ]);

      const refund = w.sim.store.refund(pi, undefined, { created: -60 })!.id;
      expect((await w.cli(['reconcile', '--since', since])).code).toBe(3);
      const reverse = { csrf: sam.csrf, id: refund, action: 'reverse', reason: 'refund approved' };
      expect((await sam.c.request('/reversal', { form: reverse })).status).toBe(403);
      expect(await w.app.query("SELECT credits FROM credit_ledger WHERE kind = 'reversal'")).toEqual([]);
      expect((await ada.c.request('/reversal', { form: { ...reverse, csrf: ada.csrf } })).status).toBe(200);
      expect(await w.app.query("SELECT credits, actor FROM credit_ledger WHERE kind = 'reversal'")).toEqual([
        { credits: -1500, actor: 'ada' },
      ]);
    });

    it('confirming one adjust preview twice (double click, reload) writes one entry; the result is a page of its own', async (test) => {
      const w = await consoleWorld(engine, test);
      await addAccount(w, 'sam', 'support');
      const c = new Client((await w.serve()).url);
      await c.signIn('sam', PASSWORD);
      const csrf = Client.csrf((await c.request('/adjust?user=2')).text);
      const form = { csrf, user: 'ben@example.com', credits: '+40', reason: 'goodwill, ticket 4712' };
      const preview = await c.request('/adjust/preview', { form });
      expect(preview.status, preview.text).toBe(200);
      const once = /name="once" value="([^"]+)"/.exec(preview.text)?.[1] ?? '';
      const confirm = { ...form, once };
      const [a, b] = await Promise.all([
        c.request('/adjust', { form: confirm }),
        c.request('/adjust', { form: confirm }),
      ]);
      const again = await c.request('/adjust', { form: confirm });
      expect(await w.app.query('SELECT user_id, credits, actor FROM credit_ledger')).toEqual([
        { user_id: '2', credits: 40, actor: 'sam' },
      ]);
      expect([a, b, again].map((r) => r.status)).toEqual([303, 303, 303]);
      const done = await c.request(again.location!);
      expect(done.status, done.text).toBe(200);
      expect(done.text).toContain('nothing written again');
      expect(done.text).toContain('Balance now 40');
    });
  });
});
