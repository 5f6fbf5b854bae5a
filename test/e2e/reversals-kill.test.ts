import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import { ABANDONED_RUN } from '../../src/ledger/ledger.js';
import { runCli, tempDir, writeJson, now, DAY, type CliResult, type TestUser } from '../helpers/cli.js';
import { createAppDb, engines, type EngineName } from '../helpers/engines.js';

/** A --json document as the tests read it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed output
type JsonDoc = any;

/**
 * `kill -9` while reconcile writes reversals and reinstatements, then a rerun: each refund or
 * dispute ends with exactly one entry per kind and every balance is right. The built CLI as a child
 * process stops itself with SIGKILL at a named point (STRIPE_CREDITS_TEST_KILL_AT, src/app/kill-point.ts):
 * inside the write transaction before it commits, and after it committed but before the run record
 * is finished.
 */

const KEY = 'sk_test_e2e_reversals_kill';
const USERS: TestUser[] = [
  { id: 1, email: 'ann@example.com', name: 'Ann' },
  { id: 2, email: 'ben@example.com', name: 'Ben' },
  { id: 3, email: 'cy@example.com', name: 'Cy' },
];
/** 1 credit per 10 cents. */
const CONFIG = { credits: { unitAmountPerCredit: { usd: 10 } }, reversals: { refunds: 'debit', disputes: 'debit' } };

async function world(engine: EngineName, test: TestContext) {
  const sim = await startSimulator({ apiKeys: [KEY] });
  const tmp = tempDir('sc-rev-kill-');
  const app = await createAppDb(engine, tmp.dir, USERS);
  test.onTestFinished(async () => {
    await sim.close();
    await app.close();
    tmp.cleanup();
  });
  const cfg = writeJson(join(tmp.dir, 'config.json'), CONFIG);
  const since = String(now() - 3 * DAY);
  const run = (killAt?: string): Promise<CliResult> =>
    runCli(['reconcile', '--since', since, '--json', '--db', app.url, '--config', cfg], {
      cwd: tmp.dir,
      env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url, STRIPE_CREDITS_TEST_KILL_AT: killAt },
      process: killAt !== undefined,
    });
  const balances = async () => {
    const rows = await app.query<{ u: string; c: unknown }>(
      'SELECT user_id AS u, SUM(credits) AS c FROM credit_ledger GROUP BY user_id ORDER BY user_id',
    );
    return Object.fromEntries(rows.map((r) => [String(r.u), Number(r.c)]));
  };
  /** The reversal and reinstatement entries, as (kind, payment_key, credits). */
  const entries = async () =>
    (
      await app.query<{ kind: string; payment_key: string; credits: unknown }>(
        "SELECT kind, payment_key, credits FROM credit_ledger WHERE kind IN ('reversal', 'reinstatement') ORDER BY kind, payment_key",
      )
    ).map((e) => [e.kind, e.payment_key, Number(e.credits)]);
  const runStatuses = async () =>
    (await app.query<{ status: string }>('SELECT status FROM stripe_credits_runs ORDER BY id')).map((r) => r.status);
  const runs = () =>
    app.query<{ status: string; error: string | null; finished_at: string | null }>(
      'SELECT status, error, finished_at FROM stripe_credits_runs ORDER BY id',
    );
  return { sim, app, run, balances, entries, runStatuses, runs };
}

type World = Awaited<ReturnType<typeof world>>;

/** A run killed at `point`: what it left behind is all or nothing of its reversal write. */
async function killedAt(w: World, point: string, written: Array<[string, string, number]>, before: unknown[]) {
  const killed = await w.run(point);
  expect(killed.code, killed.stderr).toBe(null);
  const statuses = await w.runStatuses();
  // The run record was never finished.
  expect(statuses[statuses.length - 1]).toBe('running');
  const expected = point === 'reversals-before-commit' ? before : [...before, ...written];
  expect(await w.entries()).toEqual(expect.arrayContaining(expected as unknown[]));
  expect(await w.entries()).toHaveLength(expected.length);
}

const byKey = (a: [string, string, number], b: [string, string, number]) =>
  a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1;

describe.each(engines())('kill -9 during a reversal write, then a rerun (%s)', (engine) => {
  describe.concurrent.each(['reversals-before-commit', 'reversals-after-commit'])('at %s', (point) => {
    it('each refund and dispute ends with one reversal and one reinstatement at most; balances are right', async (test) => {
      const w = await world(engine, test);
      const { store } = w.sim;
      const buy = (user: string, amount: number) =>
        store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: user, amount }).paymentIntent!.id;
      const ann = buy('1', 1000);
      const ben = buy('2', 999);
      const cy = buy('3', 2000);
      const first = await w.run();
      expect(first.code, first.stderr).toBe(0);
      expect(await w.balances()).toEqual({ '1': 100, '2': 99, '3': 200 });

      // Stripe takes money back: a full refund, two partial ones, a chargeback.
      const full = store.refund(ann, undefined, { created: -600 })!;
      const r1 = store.refund(ben, 333, { created: -590 })!;
      const r2 = store.refund(ben, 333, { created: -580 })!;
      const dp = store.openDispute(cy, { created: -570 });
      const reversals: Array<[string, string, number]> = (
        [
          ['reversal', full.id, -100],
          ['reversal', r1.id, -33],
          ['reversal', r2.id, -33],
          ['reversal', dp.id, -200],
        ] as Array<[string, string, number]>
      ).sort(byKey);
      await killedAt(w, point, reversals, []);
      const rerun = await w.run();
      expect(rerun.code, rerun.stderr).toBe(0);
      // The killed run's record, left running, was closed by the rerun once it held the lock.
      const [, killedRun, rerunRecord] = await w.runs();
      expect(killedRun).toEqual({ status: 'interrupted', error: ABANDONED_RUN, finished_at: null });
      expect(rerunRecord!.status).toBe('succeeded');
      expect(((await w.entries()) as Array<[string, string, number]>).sort(byKey)).toEqual(reversals);
      expect(await w.balances()).toEqual({ '1': 0, '2': 33, '3': 0 });

      // The money comes back: a refund fails, the dispute is won; killed while giving it back.
      store.failRefund(r1.id, { at: -300 });
      store.closeDispute(dp.id, 'won', -290);
      const reinstatements: Array<[string, string, number]> = [
        ['reinstatement', r1.id, 33],
        ['reinstatement', dp.id, 200],
      ];
      await killedAt(w, point, reinstatements, reversals);
      const last = await w.run();
      expect(last.code, last.stderr).toBe(0);
      expect(((await w.entries()) as Array<[string, string, number]>).sort(byKey)).toEqual(
        [...reinstatements, ...reversals].sort(byKey),
      );
      expect(await w.balances()).toEqual({ '1': 0, '2': 66, '3': 200 });
      const doc = JSON.parse(last.stdout) as JsonDoc;
      // The rerun wrote what the killed run had not committed, or found it written.
      const given = doc.reversals.filter((r: JsonDoc) => r.id === r1.id || r.id === dp.id);
      expect(given.map((r: JsonDoc) => r.status)).toEqual(
        point === 'reversals-before-commit' ? ['reinstated', 'reinstated'] : ['already_reversed', 'already_reversed'],
      );
    });
  });
});
