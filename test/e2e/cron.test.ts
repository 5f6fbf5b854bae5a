import { hostname } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { runLockKey } from '../../src/ledger/lock.js';
import { runCli, tempDir, writeJson, now, DAY, HOUR, type CliResult } from '../helpers/cli.js';
import { createAppDb, engines, pgConnect, type AppDb } from '../helpers/engines.js';

const KEY = 'sk_test_e2e_cron';
// The local simulator takes any rate; Stripe's test-mode limit (the default) would only make these
// tests wait on the limiter, which has suites of its own. Request counts are the same either way.
const CONFIG = {
  credits: { unitAmountPerCredit: { usd: 100 } },
  stripe: { maxRequestsPerSecond: 1000, maxRequestsPerSecondPerEndpoint: 1000 },
};

describe.each(engines())('cron-grade reconcile (%s)', (engine) => {
  let sim: StripeSimulator;
  let tmp: ReturnType<typeof tempDir>;
  let app: AppDb;
  let db: string;
  let configPath: string;

  beforeEach(async () => {
    sim = await startSimulator({ apiKeys: [KEY] });
    tmp = tempDir();
    app = await createAppDb(
      engine,
      tmp.dir,
      [1, 2, 3, 4, 5].map((id) => ({ id, email: `u${id}@example.com` })),
    );
    db = app.url;
    configPath = writeJson(join(tmp.dir, 'config.json'), CONFIG);
  });
  afterEach(async () => {
    await sim.close();
    await app.close();
    tmp.cleanup();
  });

  const run = (args: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CliResult> =>
    runCli(['reconcile', '--db', db, '--config', configPath, ...args], {
      cwd: tmp.dir,
      env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url, ...opts.env },
      timeoutMs: opts.timeoutMs,
    });
  const json = (r: CliResult) => {
    try {
      return JSON.parse(r.stdout);
    } catch {
      throw new Error(`exit ${r.code}: ${r.stderr}`);
    }
  };
  const ledger = () =>
    app.query<{ payment_key: string; user_id: string; credits: number }>(
      "SELECT payment_key, user_id, credits FROM credit_ledger WHERE kind = 'purchase'",
    );
  const balances = async () =>
    Object.fromEntries(
      (
        await app.query<{ user_id: string; b: number }>(
          'SELECT user_id, SUM(credits) AS b FROM credit_ledger GROUP BY user_id',
        )
      ).map((r) => [r.user_id, r.b]),
    );

  it('continues through events: an incremental run after a full one makes only a handful of requests', async () => {
    for (let i = 0; i < 250; i++)
      sim.store.createCheckoutPayment({
        created: now() - 5 * DAY + i * 600,
        clientReferenceId: String((i % 5) + 1),
        amount: 1000,
      });
    const full = json(await run(['--since', '7d', '--json']));
    expect(full.source).toBe('window');
    expect(full.counts.credited).toBe(250);
    expect(full.requests).toBeGreaterThanOrEqual(6);

    const fresh = sim.store.createCheckoutPayment({ created: now() - 120, clientReferenceId: '2', amount: 3000 });
    const r = await run(['--json']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const inc = json(r);
    expect(inc.source).toBe('events');
    expect(inc.items.map((i: { paymentKey: string }) => i.paymentKey)).toEqual([fresh.paymentIntent!.id]);
    expect(inc.items[0]).toMatchObject({ status: 'credited', userId: '2', credits: 30 });
    // key check + one page of events + the session re-read by id
    expect(inc.requests).toBeLessThanOrEqual(5);
    expect(await ledger()).toHaveLength(251);

    // Events are read from 10 minutes before the cursor, so the last payment is seen again: counted, not listed.
    const again = json(await run(['--json']));
    expect(again.counts).toMatchObject({ payments: 1, alreadyCredited: 1, credited: 0 });
    expect(again.items).toEqual([]);
    expect(again.requests).toBeLessThanOrEqual(5);
  });

  const cursor = async () =>
    (await app.query<{ value: string }>("SELECT value FROM stripe_credits_state WHERE key = 'cursor'"))[0]?.value;

  it('an event for a payment Stripe no longer has is passed over: the incremental run credits every other one', async () => {
    sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', amount: 1000 });
    expect((await run(['--since', '2d'])).code).toBe(0);
    const fresh: string[] = [];
    for (let i = 0; i < 40; i++)
      fresh.push(
        sim.store.createCheckoutPayment({
          created: now() - 120 + i,
          clientReferenceId: String((i % 5) + 1),
          amount: 1000,
        }).paymentIntent!.id,
      );
    // The newest events name a session (and its PaymentIntent) deleted since: they are read first.
    // The session is read with its PaymentIntent, so only the session is asked for (and missed).
    const gone = sim.store.createCheckoutPayment({ created: now() - 65, clientReferenceId: '2', amount: 5000 });
    sim.store.delete(gone.session.id);
    sim.store.delete(gone.paymentIntent!.id);

    const r = await run(['--json']);
    expect(r.code, r.stderr).toBe(0);
    const inc = json(r);
    expect(inc.source).toBe('events');
    expect(inc.counts).toMatchObject({ credited: 40 });
    expect((await ledger()).map((x) => x.payment_key).filter((k) => fresh.includes(k))).toHaveLength(40);
    expect(inc.notes).toEqual([
      expect.stringMatching(
        /^Stripe no longer has 1 object named by events or earlier runs \(deleted\?\), passed over: /,
      ),
    ]);
    expect(inc.notes[0]).toContain(gone.session.id);
  });

  it('a Stripe outage during an incremental run: exit 1, the run recorded as failed, the cursor kept', async () => {
    sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', amount: 1000 });
    expect((await run(['--since', '2d'])).code).toBe(0);
    const before = await cursor();
    sim.store.createCheckoutPayment({ created: now() - 300, clientReferenceId: '2', amount: 1000 });
    sim.setFaults({ rate500: 1 });
    const r = await run([], { env: { STRIPE_CREDITS_RETRY_SECONDS: '1' } });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^stripe-credits: could not list Events after \d+ attempts/);
    expect(await cursor()).toBe(before);
    sim.setFaults({ rate500: 0 });
    const runs = json(await runCli(['runs', '--db', db, '--json'], { cwd: tmp.dir }));
    expect(runs.runs[0]).toMatchObject({ status: 'failed' });
    // Once Stripe answers again, the next run reads from the kept cursor.
    const after = await run(['--json']);
    expect(json(after).counts).toMatchObject({ credited: 1 });
  });

  it('a key that may not read Checkout Sessions ends the incremental run (exit 2), the cursor kept', async () => {
    sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', amount: 1000 });
    expect((await run(['--since', '2d'])).code).toBe(0);
    const before = await cursor();
    await sim.close();
    sim = await startSimulator({
      store: sim.store,
      restrictedKeys: {
        rk_test_noSessions: ['rak_payment_intent_read', 'rak_charge_read', 'rak_event_read', 'rak_invoice_read'],
      },
    });
    for (let i = 0; i < 20; i++)
      sim.store.createCheckoutPayment({ created: now() - 600 + i, clientReferenceId: '2', amount: 1000 });
    const r = await run([], { env: { STRIPE_API_KEY: 'rk_test_noSessions', STRIPE_API_BASE: sim.url } });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/may not retrieve cs_test_/);
    expect(await cursor()).toBe(before);
    expect(await ledger()).toHaveLength(1);
  });

  it("a local clock 20 minutes ahead of Stripe's: the cursor follows Stripe's clock, so a payment made between runs is credited, and the skew is said", async () => {
    await sim.close();
    sim = await startSimulator({ apiKeys: [KEY], now: () => now() - 20 * 60 });
    sim.store.createCheckoutPayment({ created: -DAY, clientReferenceId: '1', amount: 1000 });
    const first = await run(['--since', '2d']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ stripe-credits: warning: this machine's clock is 20 minutes ahead of Stripe's/m,
    );
    expect(Number(await cursor())).toBeLessThanOrEqual(sim.store.now());

    // Paid a minute after run 1 by Stripe's clock: long before run 1 by this machine's.
    const between = sim.store.createCheckoutPayment({
      created: -60,
      paidAt: sim.store.now(),
      clientReferenceId: '2',
      amount: 3000,
    });
    const r = await run(['--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: this machine's clock is 20 minutes ahead/);
    expect(json(r).items).toEqual([
      expect.objectContaining({ paymentKey: between.paymentIntent!.id, status: 'credited', credits: 30 }),
    ]);
  });

  it('credits a delayed payment that settles days after its session, and a session created long before it completed', async () => {
    const ach = sim.store.createCheckoutPayment({
      created: now() - 5 * DAY,
      clientReferenceId: '3',
      amount: 4000,
      paymentStatus: 'unpaid',
    });
    const first = json(await run(['--since', '7d', '--json']));
    expect(first.items.find((i: { paymentKey: string }) => i.paymentKey === ach.paymentIntent!.id)).toMatchObject({
      status: 'pending',
    });

    // Settles five days after its PaymentIntent was created, a few seconds before the run (whose window
    // ends at its start: an event of that very second is the next run's).
    sim.store.settle(ach.paymentIntent!.id, -5);
    const late = sim.store.createCheckoutPayment({
      created: now() - 23 * HOUR,
      paidAt: now() - 60,
      clientReferenceId: '4',
      amount: 2000,
    });
    const second = json(await run(['--json']));
    expect(second.source).toBe('events');
    const byKey = new Map(second.items.map((i: { paymentKey: string }) => [i.paymentKey, i]));
    expect(byKey.get(ach.paymentIntent!.id)).toMatchObject({ status: 'credited', userId: '3', credits: 40 });
    expect(byKey.get(late.paymentIntent!.id)).toMatchObject({ status: 'credited', userId: '4', credits: 20 });
  });

  it('re-reads payments left pending or in review: a user created later gets credited without any new event', async () => {
    const orphan = sim.store.createCheckoutPayment({
      created: now() - 2 * DAY,
      amount: 1500,
      email: 'late@example.com',
    });
    const r1 = await run(['--since', '3d', '--json']);
    expect(r1.code).toBe(3);
    expect(json(r1).items[0]).toMatchObject({ status: 'needs_review', reason: 'no_user' });

    await app.exec("INSERT INTO users (id, email) VALUES (9, 'late@example.com')");
    const r2 = await run(['--json']);
    expect(r2.code, r2.stderr).toBe(0);
    const inc = json(r2);
    expect(inc.source).toBe('events');
    expect(inc.items).toEqual([
      expect.objectContaining({ paymentKey: orphan.paymentIntent!.id, status: 'credited', userId: '9', credits: 15 }),
    ]);
    expect(await app.query('SELECT status FROM stripe_credits_review')).toEqual([{ status: 'resolved' }]);
  });

  it('detects a gap older than the events retention and scans by time instead, saying so', async () => {
    sim.store.createCheckoutPayment({ created: now() - 2 * DAY, clientReferenceId: '1', amount: 1000 });
    expect((await run(['--since', '3d'])).code).toBe(0);
    await app.exec("UPDATE stripe_credits_state SET value = ? WHERE key = 'cursor'", String(now() - 40 * DAY));
    const r = await run([]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /note: the last finished run ended at .*longer ago than the 30 days Stripe keeps events: scanning payments by time/,
    );
    expect(r.stdout).toMatch(/^Reconcile: payments from /m);
    const runs = json(await runCli(['runs', '--db', db, '--json'], { cwd: tmp.dir }));
    expect(runs.runs[0]).toMatchObject({
      source: 'window',
      status: 'succeeded',
      notes: [expect.stringMatching(/30 days Stripe keeps events/)],
    });
  });

  it('a --since run that moves the cursor also reads the events since it: an old payment settling meanwhile is credited', async () => {
    const ach = sim.store.createCheckoutPayment({
      created: now() - 5 * DAY,
      clientReferenceId: '2',
      amount: 3000,
      paymentStatus: 'unpaid',
    });
    expect((await run(['--since', '7d'])).code).toBe(0); // pending; the cursor is now
    sim.store.settle(ach.paymentIntent!.id);
    // An operator scans the last hour only: the payment's PaymentIntent is five days old.
    const r = await run(['--since', '1h', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).items.find((i: { paymentKey: string }) => i.paymentKey === ach.paymentIntent!.id)).toMatchObject({
      status: 'credited',
      credits: 30,
    });
  });

  it('refuses an --until in the future, which would move the cursor past unread events', async () => {
    const r = await run(['--since', '1d', '--until', String(now() + DAY)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^stripe-credits: --until .* is in the future/);
  });

  it('moves the cursor only after a run that leaves no gap', async () => {
    const cursor = async () =>
      Number(
        (await app.query<{ value: string }>("SELECT value FROM stripe_credits_state WHERE key = 'cursor'"))[0]?.value,
      );
    const t0 = now();
    const ok = async (args: string[]) => {
      const r = await run(args);
      expect(r.code, r.stderr).toBe(0);
    };
    await ok(['--since', String(t0 - 3 * DAY), '--until', String(t0 - 2 * DAY), '--yes']);
    expect(await cursor()).toBe(t0 - 2 * DAY);
    await ok(['--since', String(t0 - DAY), '--until', String(t0 - 3600)]); // starts after the cursor: a gap
    expect(await cursor()).toBe(t0 - 2 * DAY);
    await ok(['--since', String(t0 - 2 * DAY - 60), '--until', String(t0 - 1800)]);
    expect(await cursor()).toBe(t0 - 1800);
  });

  describe('the run lock', () => {
    async function migrate() {
      expect((await runCli(['migrate', '--db', db], { cwd: tmp.dir })).code).toBe(0);
    }
    /**
     * Writes a holder's row. On Postgres the row only names the holder: what decides is the
     * advisory lock, which `advisory` takes on a session of the test's own (returned, to end it).
     */
    async function holdLock(
      values: { host: string; pid: number; heartbeatAgoMs: number },
      opts: { advisory?: boolean } = {},
    ): Promise<pg.Client | null> {
      const t = (ms: number) => new Date(Date.now() - ms).toISOString();
      await app.exec(
        'INSERT INTO stripe_credits_lock (name, token, holder, host, pid, acquired_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        'reconcile',
        'tok',
        'ops (reconcile)',
        values.host,
        values.pid,
        t(3_600_000),
        t(values.heartbeatAgoMs),
      );
      if (engine !== 'postgres' || !opts.advisory) return null;
      const session = await pgConnect(db);
      const got = await session.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [
        runLockKey('public'),
      ]);
      expect(got.rows[0]!.ok).toBe(true);
      return session;
    }

    it('a second apply run exits 75 at once, naming the holder and since when', async () => {
      await migrate();
      const session = await holdLock({ host: hostname(), pid: process.pid, heartbeatAgoMs: 1000 }, { advisory: true });
      try {
        sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', amount: 1000 });
        const r = await run(['--since', '2d']);
        expect(r.code).toBe(75);
        expect(r.stderr.split('\n')[0]).toMatch(
          new RegExp(
            `^stripe-credits: another run holds the lock: ops \\(reconcile\\) \\(pid ${process.pid} on ${hostname()}\\) since \\d{4}-\\d\\d-\\d\\dT`,
          ),
        );
        expect(await ledger()).toEqual([]);
        // a dry run does not need the lock
        expect((await run(['--since', '2d', '--dry-run'])).code).toBe(3);
      } finally {
        await session?.end();
      }
    });

    it('a lock left by a process that died on this host does not block', async () => {
      await migrate();
      await holdLock({ host: hostname(), pid: 2 ** 22 + 12345, heartbeatAgoMs: 1000 });
      sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', amount: 1000 });
      const r = await run(['--since', '2d']);
      expect(r.code, r.stderr).toBe(0);
      expect(await ledger()).toHaveLength(1);
      expect(await app.query('SELECT count(*) AS n FROM stripe_credits_lock')).toEqual([{ n: 0 }]); // released
    });

    it('a lock from another host is taken over once its heartbeat is stale', async () => {
      await migrate();
      await holdLock({ host: 'elsewhere.example', pid: 1, heartbeatAgoMs: 10 * 60_000 });
      const r = await run(['--since', '2d']);
      expect(r.code, r.stderr).toBe(0);
    });

    // Postgres only: there the advisory lock, not the row, decides.
    if (engine === 'postgres') {
      it('Postgres: the advisory lock decides; a holder on another machine blocks however old its heartbeat, until its session ends', async () => {
        await migrate();
        const session = await holdLock(
          { host: 'elsewhere.example', pid: 1, heartbeatAgoMs: 10 * 60_000 },
          { advisory: true },
        );
        sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', amount: 1000 });
        const blocked = await run(['--since', '2d']);
        expect(blocked.code, blocked.stderr).toBe(75);
        expect(blocked.stderr).toMatch(/another run holds the lock: ops \(reconcile\) \(pid 1 on elsewhere\.example\)/);
        expect(await ledger()).toEqual([]);
        // The holder's connection ends (its process died, its machine went away): the server frees the lock.
        await session!.end();
        const r = await run(['--since', '2d']);
        expect(r.code, r.stderr).toBe(0);
        expect(await ledger()).toHaveLength(1);
        expect(await app.query('SELECT count(*) AS n FROM stripe_credits_lock')).toEqual([{ n: 0 }]);
      });

      it('Postgres: a run killed with SIGKILL while holding the lock leaves nothing that blocks the next run', async () => {
        for (let i = 0; i < 400; i++)
          sim.store.createCheckoutPayment({
            created: now() - DAY + i,
            clientReferenceId: String((i % 5) + 1),
            amount: 100,
          });
        sim.setFaults({ latencyMs: 20 });
        expect((await run(['--since', '2d', '--dry-run'], { timeoutMs: 30_000 })).code).toBe(3);
        await migrate();
        // Kill it once it holds the lock (its row is written after the advisory lock is taken).
        const killed = run(['--since', '2d'], { timeoutMs: 30_000 });
        const deadline = Date.now() + 20_000;
        while ((await app.query('SELECT holder FROM stripe_credits_lock')).length === 0 && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 25));
        const held = await app.query<{ pid: number }>('SELECT pid FROM stripe_credits_lock');
        expect(held).toHaveLength(1);
        process.kill(held[0]!.pid, 'SIGKILL');
        expect((await killed).code).toBe(null);
        sim.setFaults({ latencyMs: 0 });
        // The row is still there, but nobody holds the advisory lock any more.
        expect(await app.query('SELECT count(*) AS n FROM stripe_credits_lock')).toEqual([{ n: 1 }]);
        const r = await run(['--since', '2d', '--json']);
        expect(r.code, r.stderr).toBe(0);
        expect(await ledger()).toHaveLength(400);
      });
    }
  });

  it('kill -9 at several points, then a rerun: no payment credited twice, none lost', async () => {
    const expected: Record<string, number> = {};
    for (let i = 0; i < 1500; i++) {
      const user = String((i % 5) + 1);
      const credits = (i % 7) + 1;
      sim.store.createCheckoutPayment({
        created: now() - 3 * DAY + i * 60,
        clientReferenceId: user,
        metadata: { credits: String(credits) },
        amount: 100,
      });
      expected[user] = (expected[user] ?? 0) + credits;
    }
    sim.setFaults({ latencyMs: 3 });
    for (const killAfterMs of [400, 900, 1400, 1900, 2600]) {
      const r = await run(['--since', '4d', '--json'], { timeoutMs: killAfterMs });
      if (r.code === 0) break; // it finished before the kill
      expect(r.code).toBe(null); // killed by SIGKILL
      if (!(await app.tables()).includes('credit_ledger')) continue; // killed before it migrated
      const dupes = await app.query(
        "SELECT payment_key FROM credit_ledger WHERE kind = 'purchase' GROUP BY payment_key HAVING count(*) > 1",
      );
      expect(dupes).toEqual([]);
    }
    sim.setFaults({ latencyMs: 0 });
    const last = await run(['--since', '4d', '--json']);
    expect(last.code, last.stderr).toBe(0);
    expect(await ledger()).toHaveLength(1500);
    expect(await balances()).toEqual(expected);
  });

  it('--quiet prints only the summary line; runs lists what happened', async () => {
    sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', amount: 1000 });
    const r = await run(['--since', '2d', '--quiet']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      '1 payments: 1 credited (10 credits), 0 already credited, 0 need review, 0 pending, 0 skipped.\n',
    );
    expect(r.stderr).toBe('');
    const table = await runCli(['runs', '--db', db], { cwd: tmp.dir });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/│ 1 +│ .* │ window +│ .* │ succeeded │ 1 +│ 1 +│ 0 +│ 0 +│ 10 +│/);
  });
});
