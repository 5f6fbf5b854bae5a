import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { createAppDb, runCli, tempDir, writeJson, now, DAY } from '../helpers/cli.js';

/**
 * What a person reads: a Checkout Session id runs to 66 characters, so tables show it shortened
 * (the whole id stays in --json and in every line meant to be copied). SQLite: this is layout, the
 * same on both engines.
 */
describe('human output with 66-character session ids', () => {
  const KEY = 'sk_test_e2e_width';
  let sim: StripeSimulator;
  const tmp = tempDir('sc-width-');
  let db: string;
  const cli = (...args: string[]) =>
    runCli(
      [
        ...args,
        '--db',
        db,
        '--config',
        writeJson(join(tmp.dir, 'config.json'), {
          credits: { unitAmountPerCredit: { usd: 100 }, minAmountPerCredit: { usd: 1 } },
        }),
      ],
      {
        cwd: tmp.dir,
        env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url },
      },
    );
  const widest = (text: string) => Math.max(...text.split('\n').map((l) => l.length));
  const short = (id: string) => `${id.slice(0, 12)}…${id.slice(-6)}`;

  beforeAll(async () => {
    sim = await startSimulator({ apiKeys: [KEY] });
    db = createAppDb(join(tmp.dir, 'app.db'), [
      { id: 1, email: 'ann@example.com', name: 'Ann' },
      { id: 2, email: 'ben@example.com', name: 'Ben' },
    ]);
  });
  afterAll(async () => {
    await sim.close();
    tmp.cleanup();
  });

  it('reconcile, review, lookup and balance shorten long ids in tables, list them whole once, and --json keeps them whole', async () => {
    // A 100%-coupon session has no PaymentIntent: it is keyed by its 66-character session id.
    const free = sim.store.createCheckoutPayment({
      created: now() - DAY,
      clientReferenceId: '2',
      amount: 0,
      paymentStatus: 'no_payment_required',
      metadata: { credits: '1000' },
    }).session.id;
    const paid = sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '2', amount: 300 })
      .paymentIntent!.id;
    expect(free.length).toBeGreaterThanOrEqual(66);

    const rec = await cli('reconcile', '--since', '2d', '--yes');
    expect(rec.code, rec.stderr).toBe(3);
    expect(rec.stdout).toContain(short(free));
    expect(rec.stdout).toContain(`│ ${paid} `); // a PaymentIntent id is short enough to stay whole
    expect(rec.stdout).toContain(`- ${free} [amount_too_low]`); // the list of what needs a person: whole, to copy
    expect(widest(rec.stdout), rec.stdout).toBeLessThan(150);

    const json = JSON.parse((await cli('reconcile', '--since', '2d', '--dry-run', '--json')).stdout) as {
      items: { paymentKey: string }[];
    };
    expect(json.items.map((i) => i.paymentKey)).toContain(free);

    const review = await cli('review');
    expect(review.code, review.stderr).toBe(0);
    expect(review.stdout).toContain(`│ ${short(free)} `);
    expect(review.stdout).toContain(`  ${short(free)}  ${free}\n`); // under "Full ids:"
    expect(widest(review.stdout), review.stdout).toBeLessThan(160); // its reason column alone is 54 wide

    const look = await cli('lookup', free);
    expect(look.code, look.stderr).toBe(0);
    expect(look.stdout).toContain(`Payment ${free} (Checkout Session)`);
    expect(look.stdout).toContain(`stripe-credits assign ${free} --user 2 --reason TEXT --credits N`);
    const longLines = look.stdout.split('\n').filter((l) => l.length >= 150);
    expect(
      longLines.every((l) => l.includes(`stripe-credits assign ${free} `)),
      longLines.join('\n'),
    ).toBe(true);

    expect((await cli('assign', free, '--user', '2', '--credits', '5', '--reason', 'ticket 7')).code).toBe(0);
    for (const args of [
      ['lookup', '2'],
      ['balance', '2'],
    ]) {
      const r = await cli(...args);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`│ ${short(free)} `);
      expect(r.stdout).toContain(`  ${short(free)}  ${free}\n`);
      expect(widest(r.stdout), r.stdout).toBeLessThan(150);
    }
    const bal = JSON.parse((await cli('balance', '2', '--json')).stdout) as { entries: { paymentKey: string }[] };
    expect(bal.entries.map((e) => e.paymentKey)).toContain(free);
  });
});
