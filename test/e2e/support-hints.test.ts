import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { createAppDb, runCli, tempDir, writeJson, now, DAY } from '../helpers/cli.js';

/**
 * What the support commands tell a person to do next: each hint is a command that works as printed
 * (the payment's id filled in, --credits where assign will ask for it), and each "by whom" names the
 * person who did it. SQLite: these are words, the same on both engines.
 */
describe('support hints a person can follow', () => {
  const KEY = 'sk_test_e2e_hints';
  let sim: StripeSimulator;
  const tmp = tempDir('sc-hints-');
  let db: string;
  const cli = (...args: string[]) =>
    runCli(
      [
        ...args,
        '--db',
        db,
        '--config',
        writeJson(join(tmp.dir, 'config.json'), { credits: { unitAmountPerCredit: { usd: 100 } } }),
      ],
      {
        cwd: tmp.dir,
        env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url },
      },
    );

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

  it('lookup of a payment with bad credits metadata suggests assign with --credits, for the matched user', async () => {
    const p = sim.store.createCheckoutPayment({
      created: now() - DAY,
      clientReferenceId: '1',
      amount: 500,
      metadata: { credits: 'lots' },
    }).paymentIntent!.id;
    const r = await cli('lookup', p);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `needs a person (invalid_credits: credits metadata "lots" is not a positive whole number); credit it with: stripe-credits assign ${p} --user 1 --reason TEXT --credits N`,
    );
  });

  it('review dismiss names the payment in its hint; lookup of a user says a credited payment matches, not "would credit"', async () => {
    const queued = sim.store.createCheckoutPayment({ created: now() - DAY, email: 'nobody@example.com', amount: 700 })
      .paymentIntent!.id;
    const paid = sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '2', amount: 300 })
      .paymentIntent!.id;
    expect((await cli('reconcile', '--since', '2d', '--yes')).code).toBe(3);
    const dismissed = await cli('review', 'dismiss', queued, '--reason', 'a test payment', '--actor', 'carol');
    expect(dismissed.code, dismissed.stderr).toBe(0);
    expect(dismissed.stdout).toContain(
      `To credit it after all: stripe-credits assign ${queued} --user USER --reason TEXT`,
    );
    const ben = await cli('lookup', '2');
    expect(ben.code, ben.stderr).toBe(0);
    const row = ben.stdout.split('\n').find((l) => l.includes(paid));
    expect(row).toMatch(/matches/);
    expect(ben.stdout).not.toMatch(/would credit/);
  });

  it('after a reassign, assign refuses naming the person who moved it, not the one who first credited it', async () => {
    const p = sim.store.createCheckoutPayment({ created: now() - DAY, email: 'someone@example.com', amount: 900 })
      .paymentIntent!.id;
    expect((await cli('assign', p, '--user', '1', '--reason', 'ticket 1', '--actor', 'alice')).code).toBe(0);
    expect((await cli('assign', p, '--user', '2', '--reason', 'ticket 2', '--reassign', '--actor', 'bob')).code).toBe(
      0,
    );
    const again = await cli('assign', p, '--user', '1', '--reason', 'ticket 3', '--actor', 'carol');
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/already credited to user 2 .*bob/);
    expect(again.stderr).not.toMatch(/alice/);
  });
});
