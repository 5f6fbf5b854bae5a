import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, query, runCli, startServing, tempDir, writeJson } from '../helpers/cli.js';

describe('stripe-credits demo', () => {
  const tmp = tempDir('sc-demo-');
  afterAll(() => tmp.cleanup());

  it('runs dry run, real run and rerun on the bundled simulator and exits 0', async () => {
    const r = await runCli(['demo'], { cwd: tmp.dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/== 1\. Dry run[\s\S]*Dry run: nothing was written\./);
    expect(r.stdout).toMatch(/== 2\. Real run[\s\S]*6 credited \(2498 credits\)/);
    expect(r.stdout).toMatch(/== 3\.[^\n]*\n15 payments: 0 credited \(0 credits\), 6 already credited/);
    expect(r.stdout).toMatch(/5 payments need a person/);
    // A refund of half of one credited purchase and a chargeback of another: in review (the default policy).
    expect(r.stdout).toMatch(
      /== 4\.[^\n]*\nRefunds and disputes:\n- re_\w+ \(refund of pi_\w+\): needs review \d+ credits from user \d+ \[refunded_after_credit\]\n- dp_\w+ \(dispute of pi_\w+\): needs review \d+ credits from user \d+ \[disputed_after_credit\]/,
    );
    // Audit: the entry with no payment behind it, and the two purchases Stripe took money back from.
    expect(r.stdout).toMatch(/== 5\. Audit[^\n]*\nAudit of 7 purchase entries[^\n]*: 4 backed by Stripe, 3 findings\./);
    expect(r.stdout).toMatch(/not_found \(1\); credits at stake: user 1: 500/);
    expect(r.stdout).toMatch(/user 1 +alice@example.com +1000 credits/);
    // Never matched by name, never created a user.
    const db = join(tmp.dir, 'data', 'demo.db');
    expect(query(db, 'SELECT count(*) AS n FROM users')).toEqual([{ n: 7 }]);
    expect(query(db, 'SELECT user_id, sum(credits) AS c FROM credit_ledger GROUP BY user_id ORDER BY user_id')).toEqual(
      [
        { user_id: '1', c: 1000 },
        { user_id: '2', c: 200 },
        { user_id: '3', c: 1399 },
        { user_id: '7', c: 399 },
      ],
    );
  });

  it('starts over on a second demo run', async () => {
    const r = await runCli(['demo', '--json'], { cwd: tmp.dir });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.counts).toMatchObject({ payments: 15, credited: 6, needsReview: 5, pending: 1, skipped: 3 });
  });
});

/**
 * The demo's "Next: stripe-credits lookup PAYMENT" can be followed: `demo --keep` and `simulator`
 * leave the simulator running (real processes: they serve until a signal) and print the environment
 * that points the other commands at it.
 */
describe('the simulator kept running', () => {
  const tmp = tempDir('sc-keep-');
  afterAll(() => tmp.cleanup());

  const serving = (args: string[]) => startServing(args, tmp.dir);

  it('demo --keep: review and lookup work against it, and SIGTERM stops it with exit 0', async () => {
    const s = await serving(['demo', '--keep']);
    try {
      expect(s.env).toMatchObject({ STRIPE_API_KEY: 'sk_test_demo_simulator', DATABASE_URL: join('data', 'demo.db') });
      const review = await runCli(['review', '--json'], { cwd: tmp.dir, env: s.env });
      expect(review.code, review.stderr).toBe(0);
      const entries = JSON.parse(review.stdout).entries as Array<{ paymentKey: string }>;
      expect(entries).toHaveLength(5);
      const lookup = await runCli(['lookup', entries[0]!.paymentKey], { cwd: tmp.dir, env: s.env });
      expect(lookup.code, lookup.stderr).toBe(0);
      expect(lookup.stdout).toContain(entries[0]!.paymentKey);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it('simulator --data serves the bundled data file; a file of another shape is exit 2', async () => {
    const s = await serving(['simulator', '--data', join(ROOT, 'data', 'demo-payments.json')]);
    try {
      const r = await fetch(`${s.env.STRIPE_API_BASE}/v1/checkout/sessions?limit=100`, {
        headers: { authorization: `Bearer ${s.env.STRIPE_API_KEY}` },
      });
      expect(r.status).toBe(200);
      expect(((await r.json()) as { data: unknown[] }).data.length).toBeGreaterThan(5);
    } finally {
      expect(await s.stop()).toBe(0);
    }
    const bad = await runCli(['simulator', '--data', writeJson(join(tmp.dir, 'fixture.json'), { sessions: [] })], {
      cwd: tmp.dir,
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not in the shape of data\/demo-payments\.json/);
  });
});
