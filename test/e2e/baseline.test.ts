import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { createAppDb, query, runCli, sha256, tempDir, now, DAY, HOUR, type CliResult } from '../helpers/cli.js';

const KEY = 'sk_test_e2e_baseline';

describe('baseline: a clean line for an app that already credited its past payments', () => {
  let sim: StripeSimulator;
  let tmp: ReturnType<typeof tempDir>;
  let db: string;

  beforeEach(async () => {
    sim = await startSimulator({ apiKeys: [KEY] });
    tmp = tempDir('sc-baseline-');
    db = createAppDb(
      join(tmp.dir, 'app.db'),
      [1, 2].map((id) => ({ id, email: `u${id}@example.com` })),
    );
  });
  afterEach(async () => {
    await sim.close();
    tmp.cleanup();
  });

  const cli = (args: string[]): Promise<CliResult> =>
    runCli([...args, '--db', db], { cwd: tmp.dir, env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url } });
  const json = async (args: string[]) => {
    const r = await cli([...args, '--json']);
    try {
      return { ...r, doc: JSON.parse(r.stdout) };
    } catch {
      throw new Error(`exit ${r.code}: ${r.stderr}`);
    }
  };
  const purchases = () =>
    query<{ payment_key: string }>(
      db,
      "SELECT payment_key FROM credit_ledger WHERE kind = 'purchase' ORDER BY payment_key",
    ).map((r) => r.payment_key);

  it('records every settled payment before the line as handled; reconcile then credits exactly the rest, once', async () => {
    const line = now() - 2 * DAY;
    const old = [10, 6, 3].map(
      (d) =>
        sim.store.createCheckoutPayment({
          created: now() - d * DAY,
          clientReferenceId: '1',
          amount: 1000,
          metadata: { credits: '10' },
        }).paymentIntent!.id,
    );
    const oldPending = sim.store.createCheckoutPayment({
      created: now() - 4 * DAY,
      clientReferenceId: '2',
      amount: 2000,
      paymentStatus: 'unpaid',
      metadata: { credits: '20' },
    }).paymentIntent!.id;
    const fresh = [30, 5].map(
      (h) =>
        sim.store.createCheckoutPayment({
          created: now() - h * HOUR,
          clientReferenceId: '2',
          amount: 1000,
          metadata: { credits: '10' },
        }).paymentIntent!.id,
    );

    // Without a baseline, the first run refuses and points at it.
    const refused = await cli(['reconcile']);
    expect(refused.code).toBe(3);

    const before = sha256(db);
    const dry = await json(['baseline', '--until', String(line), '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.doc).toMatchObject({
      mode: 'dry-run',
      payments: 4,
      baselined: 3,
      alreadyHandled: 0,
      pending: 1,
      cursor: null,
    });
    expect(sha256(db)).toBe(before);

    const applied = await json(['baseline', '--until', String(line)]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.doc).toMatchObject({
      mode: 'apply',
      payments: 4,
      baselined: 3,
      pending: 1,
      cursor: new Date(line * 1000).toISOString(),
    });
    expect(
      query(db, 'SELECT payment_key FROM stripe_credits_baseline ORDER BY payment_key').map(
        (r) => (r as { payment_key: string }).payment_key,
      ),
    ).toEqual([...old].sort());
    expect(purchases()).toEqual([]); // nothing credited

    // Reconcile continues from the line (no --since, no --yes needed): only the payments after it.
    const run = await json(['reconcile']);
    expect(run.code, run.stderr + JSON.stringify(run.doc)).toBe(0);
    expect(purchases()).toEqual([...fresh].sort());
    expect(run.doc.items.map((i: { paymentKey: string }) => i.paymentKey).sort()).toEqual([...fresh].sort());

    // Even a scan by payment time over the whole history never credits a baselined payment.
    const wide = await json(['reconcile', '--since', '30d']);
    expect(wide.code, wide.stderr).toBe(0);
    expect(purchases()).toEqual([...fresh].sort());

    // The payment that was still pending at the line is credited once it settles (through its
    // event: a few seconds before the run, whose window ends at its start).
    sim.store.settle(oldPending, -5);
    await json(['reconcile']);
    expect(purchases()).toEqual([...fresh, oldPending].sort());

    // A second baseline finds everything handled.
    const again = await json(['baseline', '--until', String(line)]);
    expect(again.doc).toMatchObject({ baselined: 0, alreadyHandled: 4 });
  });

  it('needs --until, and refuses one in the future', async () => {
    const none = await cli(['baseline']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^stripe-credits: baseline needs --until WHEN/);
    const future = await cli(['baseline', '--until', String(now() + DAY)]);
    expect(future.code).toBe(2);
    expect(future.stderr).toMatch(/is in the future/);
  });
});
