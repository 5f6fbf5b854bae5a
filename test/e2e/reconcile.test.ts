import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { runCli, tempDir, writeJson, now, type CliResult } from '../helpers/cli.js';
import { createAppDb, engines, type AppDb } from '../helpers/engines.js';
import { buildScenario, type Scenario } from '../helpers/scenario.js';

const KEY = 'sk_test_e2e_reconcile';

interface Item {
  paymentKey: string;
  status: string;
  reason: string | null;
  userId: string | null;
  credits: number | null;
  matchedBy: string | null;
  checkoutSession: string | null;
  paymentIntent: string | null;
  amount: number | null;
  currency: string | null;
}
interface Report {
  mode: string;
  window: { since: string; until: string };
  counts: Record<string, number>;
  creditsWritten: number;
  items: Item[];
}

function parse(r: CliResult): Report {
  expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
  return JSON.parse(r.stdout) as Report;
}

describe.each(engines())('reconcile on a few hundred payments, end to end (%s)', (engine) => {
  let sim: StripeSimulator;
  let tmp: ReturnType<typeof tempDir>;
  let scenario: Scenario;
  let app: AppDb;
  let configPath: string;
  let cli: (args: string[]) => Promise<CliResult>;

  beforeAll(async () => {
    sim = await startSimulator({ apiKeys: [KEY] });
    scenario = buildScenario(sim.store, { until: now() - 60 });
    tmp = tempDir();
    app = await createAppDb(engine, tmp.dir, scenario.users);
    // The local simulator takes any rate: Stripe's test-mode limit (the default) would make this suite
    // wait on the limiter for most of its time. The limiter has suites of its own (test/stripe/).
    configPath = writeJson(join(tmp.dir, 'config.json'), {
      ...scenario.config,
      stripe: { maxRequestsPerSecond: 1000, maxRequestsPerSecondPerEndpoint: 1000 },
    });
    cli = (args) =>
      runCli(
        [
          'reconcile',
          '--db',
          app.url,
          '--config',
          configPath,
          '--since',
          String(scenario.since),
          '--until',
          String(scenario.until),
          '--json',
          ...args,
        ],
        {
          cwd: tmp.dir,
          env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url },
        },
      );
  });
  afterAll(async () => {
    await sim?.close();
    await app?.close();
    tmp?.cleanup();
  });

  function checkEveryPayment(report: Report, creditedStatus: 'credited' | 'would_credit' | 'already_credited') {
    const byKey = new Map(report.items.map((i) => [i.paymentKey, i]));
    expect(byKey.size).toBe(report.items.length); // one item per payment
    for (const key of scenario.notListed) expect(byKey.has(key), `${key} must not be listed`).toBe(false);
    for (const [key, exp] of scenario.expected) {
      const item = byKey.get(key);
      if (exp.status === 'credited' && creditedStatus === 'already_credited') {
        expect(item, `${key} was credited before and is not listed again`).toBeUndefined();
        continue;
      }
      expect(item, `${key} is listed`).toBeDefined();
      const want = exp.status === 'credited' ? creditedStatus : exp.status;
      expect({ key, status: item!.status, reason: item!.reason }).toEqual({
        key,
        status: want,
        reason: exp.reason ?? null,
      });
      if (exp.userId !== undefined) expect(item!.userId).toBe(exp.userId);
      if (exp.credits !== undefined) expect(item!.credits).toBe(exp.credits);
      if (exp.matchedBy !== undefined) expect(item!.matchedBy).toBe(exp.matchedBy);
    }
    expect(report.items.length).toBe(
      creditedStatus === 'already_credited'
        ? [...scenario.expected.values()].filter((e) => e.status !== 'credited').length
        : scenario.expected.size,
    );
  }

  const expectedCredited = () => [...scenario.expected.entries()].filter(([, e]) => e.status === 'credited');

  it('a dry run on a database the tool never touched decides every payment and changes no byte', async () => {
    const before = await app.fingerprint();
    const r = await cli(['--dry-run']);
    expect(r.code, r.stderr).toBe(3); // it found credits to write
    const report = parse(r);
    expect(report.mode).toBe('dry-run');
    checkEveryPayment(report, 'would_credit');
    expect(report.counts.wouldCredit).toBe(expectedCredited().length);
    expect(report.counts.credited).toBe(0);
    expect(report.creditsWritten).toBe(0);
    expect(await app.fingerprint()).toBe(before);
    expect(await app.tables()).toEqual(['users']);
    // Listing crossed several pages of 100.
    const sessionPages = sim.requests.filter(
      (q) => q.endpoint === 'GET /v1/checkout/sessions' && q.query.status === 'complete',
    );
    expect(sessionPages.length).toBeGreaterThanOrEqual(3);
  });

  it('the real run credits exactly the expected payments, and the ledger holds one entry each', async () => {
    const r = await cli([]);
    expect(r.code, r.stderr).toBe(3); // new payments in review
    const report = parse(r);
    expect(report.mode).toBe('apply');
    checkEveryPayment(report, 'credited');
    const want = expectedCredited();
    expect(report.counts.credited).toBe(want.length);
    const total = want.reduce((s, [, e]) => s + (e.credits ?? 0), 0);
    expect(report.creditsWritten).toBe(total);
    expect(report.counts.payments).toBe(scenario.expected.size);

    const rows = await app.query<{ payment_key: string; user_id: string; credits: number; kind: string }>(
      'SELECT payment_key, user_id, credits, kind FROM credit_ledger ORDER BY id',
    );
    expect(rows.length).toBe(want.length);
    const byKey = new Map(rows.map((r) => [r.payment_key, r]));
    for (const [key, e] of want) {
      expect(byKey.get(key)).toMatchObject({ user_id: e.userId, credits: e.credits, kind: 'purchase' });
    }
    const review = await app.query<{ payment_key: string; reason: string; status: string }>(
      'SELECT payment_key, reason, status FROM stripe_credits_review',
    );
    const wantReview = [...scenario.expected.entries()].filter(([, e]) => e.status === 'needs_review');
    expect(review.length).toBe(wantReview.length);
    for (const [key, e] of wantReview)
      expect(review.find((x) => x.payment_key === key)).toMatchObject({ reason: e.reason, status: 'open' });
    const runs = await app.query<{ status: string; mode: string }>('SELECT status, mode FROM stripe_credits_runs');
    expect(runs).toEqual([{ status: 'succeeded', mode: 'apply' }]);
  });

  it('a second run writes nothing new and exits 0 (the review entries are not new)', async () => {
    const r = await cli([]);
    expect(r.code, r.stderr).toBe(0);
    const report = parse(r);
    checkEveryPayment(report, 'already_credited');
    expect(report.counts.credited).toBe(0);
    expect(report.counts.alreadyCredited).toBe(expectedCredited().length);
    expect(report.counts.payments).toBe(scenario.expected.size);
    expect(await app.query('SELECT count(*) AS n FROM credit_ledger')).toEqual([{ n: expectedCredited().length }]);
    const dupes = await app.query(
      'SELECT payment_key FROM credit_ledger GROUP BY kind, payment_key HAVING count(*) > 1',
    );
    expect(dupes).toEqual([]);
  });

  it('a dry run on the used database changes no byte and records no run', async () => {
    const before = await app.fingerprint();
    const r = await cli(['--dry-run']);
    expect(r.code, r.stderr).toBe(0); // nothing to write, nothing new to review
    const report = parse(r);
    expect(report.counts.wouldCredit).toBe(0);
    expect(await app.fingerprint()).toBe(before);
    expect(await app.query('SELECT count(*) AS n FROM stripe_credits_runs')).toEqual([{ n: 2 }]);
  });

  it('prints a human table with a one-line summary without --json', async () => {
    const r = await runCli(
      [
        'reconcile',
        '--db',
        app.url,
        '--config',
        configPath,
        '--since',
        String(scenario.since),
        '--until',
        String(scenario.until),
        '--dry-run',
      ],
      {
        cwd: tmp.dir,
        env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url },
      },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Paid at \(UTC\).*Payment.*User.*Status/);
    expect(r.stdout).toMatch(
      new RegExp(
        `^${scenario.expected.size} payments: 0 would be credited \\(0 credits\\), ${expectedCredited().length} already credited`,
        'm',
      ),
    );
    expect(r.stderr).toBe(''); // no spinner when stderr is not a terminal
  });
});
