import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { runCli, tempDir, writeJson, now, DAY } from '../helpers/cli.js';
import { createAppDb, engines, type AppDb } from '../helpers/engines.js';

/**
 * A payment in review for invalid_credits shows the value that made it so, wherever a person reads
 * the reason: reconcile's "needs a person" list, `review` (text and JSON) and `lookup`. The value is
 * what the person fixes or asks about; the reason alone sends them to the Stripe dashboard.
 */
const KEY = 'sk_test_e2e_invalidCredits';
/** 1 credit per cent; a cap of 100000 credits. */
const CONFIG = { credits: { unitAmountPerCredit: { usd: 1 } }, maxCreditsPerPayment: 100000 };

describe.each(engines())('invalid_credits shows the bad value (%s)', (engine) => {
  let sim: StripeSimulator;
  let app: AppDb;
  const tmp = tempDir('sc-invalid-');
  const pay: Record<string, string> = {};
  let reconcileOut = '';

  const cli = (...args: string[]) =>
    runCli([...args, '--db', app.url, '--config', join(tmp.dir, 'config.json')], {
      cwd: tmp.dir,
      env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url },
    });

  beforeAll(async () => {
    sim = await startSimulator({ apiKeys: [KEY] });
    app = await createAppDb(engine, tmp.dir, [{ id: 1, email: 'ann@example.com', name: 'Ann' }]);
    writeJson(join(tmp.dir, 'config.json'), CONFIG);
    const created = now() - DAY;
    const metadata = (credits: string) => ({ created, clientReferenceId: '1', amount: 500, metadata: { credits } });
    pay.lots = sim.store.createCheckoutPayment(metadata('lots')).paymentIntent!.id;
    pay.fraction = sim.store.createCheckoutPayment(metadata('5.5')).paymentIntent!.id;
    pay.negative = sim.store.createCheckoutPayment(metadata('-3')).paymentIntent!.id;
    pay.capped = sim.store.createCheckoutPayment(metadata('250000')).paymentIntent!.id;
    // The amount rule over the cap: 150000 cents at 1 credit per cent.
    pay.amount = sim.store.createCheckoutPayment({ created, clientReferenceId: '1', amount: 150000 }).paymentIntent!.id;
    const run = await cli('reconcile', '--since', '2d');
    expect(run.code, run.stderr).toBe(3);
    reconcileOut = run.stdout;
  });
  afterAll(async () => {
    await sim.close();
    await app.close();
    tmp.cleanup();
  });

  const EXPECTED: Record<string, string> = {
    lots: 'credits metadata "lots" is not a positive whole number',
    fraction: 'credits metadata "5.5" is not a positive whole number',
    negative: 'credits metadata "-3" is not a positive whole number',
    capped: '250000 credits (metadata rule) is over maxCreditsPerPayment (100000)',
    amount: '150000 credits (unit_amount rule) is over maxCreditsPerPayment (100000)',
  };

  it("reconcile's list of payments that need a person", () => {
    for (const [name, detail] of Object.entries(EXPECTED)) {
      const lines = reconcileOut.split('\n');
      const at = lines.indexOf(`- ${pay[name]!} [invalid_credits]`);
      expect(at, name).toBeGreaterThanOrEqual(0);
      expect(lines[at + 1], name).toBe(`    ${detail}`);
    }
  });

  it('review, as text and as JSON', async () => {
    const text = await cli('review');
    expect(text.code, text.stderr).toBe(0);
    // Table cells wrap: compare with the table's spacing and borders taken out.
    const flat = text.stdout.replace(/[\s│|]+/g, ' ');
    for (const detail of Object.values(EXPECTED)) expect(flat).toContain(detail.replace(/\s+/g, ' '));
    const json = await cli('review', '--json');
    const entries = JSON.parse(json.stdout).entries as Array<{
      paymentKey: string;
      reason: string;
      detail: string | null;
    }>;
    expect(Object.fromEntries(entries.map((e) => [e.paymentKey, e.detail]))).toEqual(
      Object.fromEntries(Object.entries(EXPECTED).map(([n, d]) => [pay[n], d])),
    );
  });

  it('lookup of the payment, in its verdict and its review entry', async () => {
    const r = await cli('lookup', pay.lots!);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      'needs a person (invalid_credits: credits metadata "lots" is not a positive whole number)',
    );
    expect(r.stdout).toContain(
      'Review queue: invalid_credits (credits metadata "lots" is not a positive whole number)',
    );
    const capped = await cli('lookup', pay.capped!, '--json');
    expect(JSON.parse(capped.stdout).chain).toMatchObject({ reason: 'invalid_credits', detail: EXPECTED.capped });
  });
});
