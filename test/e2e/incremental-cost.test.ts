import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, now, DAY, type CliResult } from '../helpers/cli.js';
import { engines } from '../helpers/engines.js';
import { closeWorld, openWorld, type World } from '../helpers/world.js';

const KEY = 'sk_test_e2e_incrementalCost';
// The simulator takes any rate: the counts are the same under Stripe's limits, only slower.
const CONFIG = {
  credits: { unitAmountPerCredit: { usd: 100 } },
  stripe: { maxRequestsPerSecond: 1000, maxRequestsPerSecondPerEndpoint: 1000 },
};
const IN_REVIEW = 1000;

/**
 * Issue 18: an incremental run costs what changed on Stripe, not what waits in the review queue.
 * Every count here is the simulator's own log of the requests it answered.
 */
describe.each(engines())('incremental runs cost what changed (%s)', (engine) => {
  let w: World;
  let orphans: string[];
  let ach: string;

  const run = (args: string[]): Promise<CliResult> =>
    runCli(['reconcile', '--db', w.app.url, '--config', join(w.tmp.dir, 'config.json'), '--json', ...args], {
      cwd: w.tmp.dir,
      env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: w.sim.url },
    });
  const json = (r: CliResult) => {
    try {
      return JSON.parse(r.stdout);
    } catch {
      throw new Error(`exit ${r.code}: ${r.stderr}`);
    }
  };
  /** An incremental run, with the requests the simulator answered for it. */
  const incremental = async () => {
    w.sim.resetRequestLog();
    const r = await run([]);
    const report = json(r);
    expect(report.source).toBe('events');
    return { code: r.code, report, requests: w.sim.requests.map((q) => q.endpoint) };
  };
  const byKey = (report: { items: { paymentKey: string }[] }, key: string) =>
    report.items.find((i) => i.paymentKey === key);

  beforeEach(async () => {
    w = await openWorld(engine, { key: KEY, config: CONFIG, users: 5 });
    // 1,000 payments in review (no user has their client_reference_id) and one ACH debit pending.
    orphans = [];
    for (let i = 0; i < IN_REVIEW; i++) {
      const p = w.sim.store.createCheckoutPayment({
        created: now() - 3 * DAY + i * 60,
        clientReferenceId: String(100 + i),
        amount: 1000,
      });
      orphans.push(p.paymentIntent!.id);
    }
    ach = w.sim.store.createCheckoutPayment({
      created: now() - 2 * DAY,
      clientReferenceId: '2',
      amount: 3000,
      paymentStatus: 'unpaid',
    }).paymentIntent!.id;
    const first = await run(['--since', '7d']);
    expect(first.code, first.stderr).toBe(3);
    expect(json(first).counts).toMatchObject({ needsReview: IN_REVIEW, pending: 1 });
  }, 60_000);
  afterEach(async () => {
    await closeWorld(w);
  });

  it('with nothing new: at most 3 requests, and the 1,000 review entries are decided again all the same', async () => {
    const { code, report, requests } = await incremental();
    expect(code).toBe(0);
    expect(requests.length, requests.join('\n')).toBeLessThanOrEqual(3);
    expect(report.requests).toBe(requests.length);
    expect(report.counts).toMatchObject({ needsReview: IN_REVIEW, pending: 1, credited: 0 });
    const open = await w.app.query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM stripe_credits_review WHERE status = 'open'",
    );
    expect(Number(open[0]!.n)).toBe(IN_REVIEW);
  });

  it('with N new payments: about N + 3 requests, whatever waits in review', async () => {
    const fresh = [1, 2, 3, 4, 5].map(
      (u) =>
        w.sim.store.createCheckoutPayment({ created: now() - 120, clientReferenceId: String(u), amount: 2000 })
          .paymentIntent!.id,
    );
    const { code, report, requests } = await incremental();
    expect(code).toBe(0);
    for (const pi of fresh) expect(byKey(report, pi)).toMatchObject({ status: 'credited', credits: 20 });
    expect(requests.length, requests.join('\n')).toBeLessThanOrEqual(fresh.length + 3);
  });

  it('a review entry whose user was created since is credited without a Stripe request for it', async () => {
    await w.app.exec("INSERT INTO users (id, email) VALUES (100, 'late@example.com')");
    const { code, report, requests } = await incremental();
    expect(code).toBe(0);
    expect(byKey(report, orphans[0]!)).toMatchObject({ status: 'credited', userId: '100', credits: 10 });
    expect(requests).toEqual(['GET /v1/events']);
    const entry = await w.app.query<{ status: string }>(
      'SELECT status FROM stripe_credits_review WHERE payment_key = ?',
      orphans[0],
    );
    expect(entry).toEqual([{ status: 'resolved' }]);
  });

  it('a pending payment that settles is credited through its event: its payment re-read, nothing else', async () => {
    w.sim.store.settle(ach, -5);
    const { code, report, requests } = await incremental();
    expect(code).toBe(0);
    expect(byKey(report, ach)).toMatchObject({ status: 'credited', userId: '2', credits: 30 });
    expect(requests.length, requests.join('\n')).toBeLessThanOrEqual(4);
    // Nothing waits for it any more: its record no longer holds what Stripe said of it.
    const record = await w.app.query<{ status: string; snapshot: string | null }>(
      'SELECT status, snapshot FROM stripe_credits_payments WHERE payment_key = ?',
      ach,
    );
    expect(record).toEqual([{ status: 'credited', snapshot: null }]);
  });

  it('a refund of a payment in review arrives as its event: the payment read once, by the session the tool recorded', async () => {
    w.sim.store.refund(orphans[1]!, undefined, { created: now() - 5 });
    const { code, report, requests } = await incremental();
    expect(code).toBe(0);
    expect(byKey(report, orphans[1]!)).toMatchObject({ status: 'skipped', reason: 'refunded' });
    // One new event: about 1 + 3 requests (its page, the payment's session, nothing per entry in review).
    expect(requests.length, requests.join('\n')).toBeLessThanOrEqual(1 + 3);
    expect(requests).not.toContain('GET /v1/payment_intents/:id');
  });

  it('a pending payment whose debit fails leaves the queue of waiting payments through its event', async () => {
    w.sim.store.failPayment(ach, -5);
    const failed = await incremental();
    expect(failed.code).toBe(0);
    expect(byKey(failed.report, ach)).toBeUndefined();
    expect(failed.report.counts).toMatchObject({ pending: 0, needsReview: IN_REVIEW });
    // Nor reported pending again, nor re-read, by the runs after its events (gone here, as once
    // the runs' overlap has passed them).
    for (const e of w.sim.store.sorted('event')) if (e.obj.created >= now() - 60) w.sim.store.delete(e.obj.id);
    const after = await incremental();
    expect(after.report.counts).toMatchObject({ pending: 0, needsReview: IN_REVIEW });
    expect(after.requests).toEqual(['GET /v1/events']);
  });

  it('records written before snapshots were kept are re-read once, then decided from what was recorded', async () => {
    await w.app.exec(
      'UPDATE stripe_credits_payments SET snapshot = NULL WHERE payment_key IN (?, ?)',
      ...orphans.slice(0, 2),
    );
    const once = await incremental();
    expect(once.requests.filter((e) => e !== 'GET /v1/events')).toEqual([
      'GET /v1/checkout/sessions/:id',
      'GET /v1/checkout/sessions/:id',
    ]);
    expect(once.report.counts).toMatchObject({ needsReview: IN_REVIEW });
    expect((await incremental()).requests).toEqual(['GET /v1/events']);
  });

  it('a window run still re-reads every waiting payment from Stripe', async () => {
    w.sim.resetRequestLog();
    const r = await run(['--since', '1h']);
    expect(r.code, r.stderr).toBe(0);
    const byId = w.sim.requests.filter((q) => q.endpoint === 'GET /v1/checkout/sessions/:id');
    expect(byId).toHaveLength(IN_REVIEW + 1);
  });
});
