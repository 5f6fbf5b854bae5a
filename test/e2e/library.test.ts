import { join } from 'node:path';
import Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createAppDb, query, runCli, tempDir, now, DAY, ROOT } from '../helpers/cli.js';
import { createStripeCredits, type StripeCredits } from '../../src/index.js';

const KEY = 'sk_test_e2e_library';
const SECRET = 'whsec_test_library';

describe('the package', () => {
  it('is an ES module with type declarations: what the README tells a webhook handler to import', async () => {
    expect(existsSync(join(ROOT, 'dist', 'index.d.ts'))).toBe(true);
    const pkg = (await import(pathToFileURL(join(ROOT, 'dist', 'index.js')).href)) as Record<string, unknown>;
    expect(typeof pkg.createStripeCredits).toBe('function');
  });
});

describe('the library: fulfill and handleWebhook', () => {
  let sim: StripeSimulator;
  let tmp: ReturnType<typeof tempDir>;
  let db: string;
  let credits: StripeCredits;

  beforeEach(async () => {
    sim = await startSimulator({ apiKeys: [KEY] });
    tmp = tempDir('sc-lib-');
    db = createAppDb(
      join(tmp.dir, 'app.db'),
      [1, 2, 3].map((id) => ({ id, email: `u${id}@example.com` })),
    );
    credits = createStripeCredits({
      db,
      stripeApiKey: KEY,
      stripeApiBase: sim.url,
      config: { credits: { unitAmountPerCredit: { usd: 100 } } },
      cwd: tmp.dir,
    });
  });
  afterEach(async () => {
    await credits.close();
    await sim.close();
    tmp.cleanup();
  });

  const purchases = () =>
    query<{ payment_key: string; user_id: string; credits: number; actor: string }>(
      db,
      "SELECT payment_key, user_id, credits, actor FROM credit_ledger WHERE kind = 'purchase'",
    );

  it('credits a payment once, by session or by PaymentIntent id, and says already_credited after', async () => {
    const p = sim.store.createCheckoutPayment({ created: now() - 600, clientReferenceId: '2', amount: 2500 });
    const first = await credits.fulfill(p.session.id);
    expect(first).toMatchObject({
      paymentKey: p.paymentIntent!.id,
      status: 'credited',
      userId: '2',
      credits: 25,
      matchedBy: 'client_reference_id',
    });
    expect(await credits.fulfill(p.paymentIntent!.id)).toMatchObject({
      paymentKey: p.paymentIntent!.id,
      status: 'already_credited',
    });
    expect(purchases()).toEqual([{ payment_key: p.paymentIntent!.id, user_id: '2', credits: 25, actor: 'webhook' }]);
  });

  it('is safe to call concurrently: one credit among many calls', async () => {
    const p = sim.store.createCheckoutPayment({ created: now() - 600, clientReferenceId: '1', amount: 1000 });
    const items = await Promise.all(
      Array.from({ length: 6 }, (_, i) => credits.fulfill(i % 2 ? p.session.id : p.paymentIntent!.id)),
    );
    expect(items.filter((i) => i.status === 'credited')).toHaveLength(1);
    expect(items.filter((i) => i.status === 'already_credited')).toHaveLength(5);
    expect(purchases()).toHaveLength(1);
  });

  it('racing reconcile in another process, every payment is credited once', async () => {
    const keys: string[] = [];
    for (let i = 0; i < 60; i++)
      keys.push(
        sim.store.createCheckoutPayment({
          created: now() - DAY + i * 60,
          clientReferenceId: String((i % 3) + 1),
          amount: 1000,
        }).paymentIntent!.id,
      );
    const cli = runCli(['reconcile', '--db', db, '--since', '2d', '--json'], {
      cwd: tmp.dir,
      env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url, STRIPE_CREDITS_CONFIG: undefined },
      process: true,
    });
    const lib = Promise.all(keys.map((k) => credits.fulfill(k)));
    const [r, items] = await Promise.all([cli, lib]);
    expect([0, 3]).toContain(r.code);
    expect(items.every((i) => i.status === 'credited' || i.status === 'already_credited')).toBe(true);
    const rows = purchases();
    expect(rows).toHaveLength(60);
    expect(new Set(rows.map((x) => x.payment_key)).size).toBe(60);
  });

  it('credits.minAmountPerCredit applies to the library too: a 1-cent payment for 5000 credits is not credited', async () => {
    const floored = createStripeCredits({
      db,
      stripeApiKey: KEY,
      stripeApiBase: sim.url,
      config: { credits: { minAmountPerCredit: { usd: 5 } } },
      cwd: tmp.dir,
    });
    try {
      const cent = sim.store.createPaymentIntent({
        created: now() - 600,
        amount: 1,
        metadata: { user_id: '1', credits: '5000' },
      }).paymentIntent.id;
      const fair = sim.store.createPaymentIntent({
        created: now() - 600,
        amount: 500,
        metadata: { user_id: '2', credits: '100' },
      }).paymentIntent.id;
      expect(await floored.fulfill(cent)).toMatchObject({
        status: 'needs_review',
        reason: 'amount_too_low',
        userId: '1',
      });
      expect(await floored.fulfill(fair)).toMatchObject({ status: 'credited', credits: 100 });
      expect(purchases()).toEqual([{ payment_key: fair, user_id: '2', credits: 100, actor: 'webhook' }]);
    } finally {
      await floored.close();
    }
  });

  it('reports why a payment is not credited, and refuses what is not a payment', async () => {
    const pending = sim.store.createCheckoutPayment({
      created: now() - 600,
      clientReferenceId: '1',
      amount: 1000,
      paymentStatus: 'unpaid',
    });
    expect(await credits.fulfill(pending.session.id)).toMatchObject({ status: 'pending' });
    const nobody = sim.store.createCheckoutPayment({
      created: now() - 600,
      amount: 1000,
      email: 'stranger@example.org',
    });
    expect(await credits.fulfill(nobody.session.id)).toMatchObject({ status: 'needs_review', reason: 'no_user' });
    const open = sim.store.createCheckoutPayment({
      created: now() - 600,
      status: 'open',
      clientReferenceId: '1',
      amount: 1000,
    });
    await expect(credits.fulfill(open.session.id)).rejects.toThrow(/is not a payment: the Checkout Session is open/);
    await expect(credits.fulfill('cs_test_doesNotExist')).rejects.toThrow(/Stripe has no payment/);
    expect(purchases()).toEqual([]);
  });

  it('each call stands on its own: after an id Stripe does not have, the next payment is credited', async () => {
    const p = sim.store.createCheckoutPayment({ created: now() - 600, clientReferenceId: '2', amount: 2500 });
    await expect(credits.fulfill('cs_test_a1B2c3D4e5F6g7H8doesNotExist')).rejects.toThrow(
      /^Stripe has no payment cs_test_a1B2c3D4e5F6g7H8doesNotExist$/,
    );
    const event = JSON.stringify({
      id: 'evt_1QxYzAbCdEfGh',
      object: 'event',
      type: 'payment_intent.succeeded',
      data: { object: { id: 'pi_3MtwBwMissing0000000000', object: 'payment_intent' } },
    });
    await expect(
      credits.handleWebhook(
        event,
        Stripe.webhooks.generateTestHeaderString({ payload: event, secret: SECRET }),
        SECRET,
      ),
    ).rejects.toThrow(/Stripe has no payment pi_3MtwBwMissing/);
    expect(await credits.fulfill(p.session.id)).toMatchObject({
      paymentKey: p.paymentIntent!.id,
      status: 'credited',
      userId: '2',
      credits: 25,
    });
    expect(purchases()).toHaveLength(1);
  });

  it('each call stands on its own: after a Stripe outage longer than the retry budget, the next call credits', async () => {
    const quick = createStripeCredits({
      db,
      stripeApiKey: KEY,
      stripeApiBase: sim.url,
      config: { credits: { unitAmountPerCredit: { usd: 100 } } },
      cwd: tmp.dir,
      retrySeconds: 1,
    });
    try {
      const p = sim.store.createCheckoutPayment({ created: now() - 600, clientReferenceId: '3', amount: 4000 });
      sim.setFaults({ rate500: 1 });
      await expect(quick.fulfill(p.session.id)).rejects.toThrow(/^could not retrieve cs_test_\w+ after \d+ attempts/);
      sim.setFaults({ rate500: 0 });
      const before = sim.requests.length;
      expect(await quick.fulfill(p.session.id)).toMatchObject({ status: 'credited', userId: '3', credits: 40 });
      expect(sim.requests.length).toBeGreaterThan(before); // asked Stripe again
      expect(purchases()).toHaveLength(1);
    } finally {
      await quick.close();
    }
  });

  it('refuses a retrySeconds that is no number of seconds', () => {
    expect(() => createStripeCredits({ db, stripeApiKey: KEY, retrySeconds: -1 })).toThrow(
      /retrySeconds must be a number of seconds from 0 to 3600/,
    );
  });

  it('handleWebhook verifies the signature and fulfils the events that complete a purchase', async () => {
    const p = sim.store.createCheckoutPayment({ created: now() - 600, clientReferenceId: '3', amount: 4000 });
    const event = (type: string, object: unknown) =>
      JSON.stringify({ id: 'evt_test_1', object: 'event', type, data: { object } });
    const sign = (payload: string) => Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET });

    const completed = event('checkout.session.completed', { id: p.session.id, object: 'checkout.session' });
    expect(await credits.handleWebhook(completed, sign(completed), SECRET)).toMatchObject({
      status: 'credited',
      userId: '3',
      credits: 40,
    });
    const succeeded = event('payment_intent.succeeded', { id: p.paymentIntent!.id, object: 'payment_intent' });
    expect(await credits.handleWebhook(succeeded, sign(succeeded), SECRET)).toMatchObject({
      status: 'already_credited',
    });
    const other = event('customer.created', { id: 'cus_1', object: 'customer' });
    expect(await credits.handleWebhook(other, sign(other), SECRET)).toBeNull();
    // A PaymentIntent that is no credit purchase (no metadata: a subscription renewal, a Terminal
    // sale) is nothing to do, not an error a route would answer 500 to (Stripe would retry for days).
    const bare = sim.store.createPaymentIntent({ created: now() - 600, amount: 999 }).paymentIntent.id;
    const renewal = event('payment_intent.succeeded', { id: bare, object: 'payment_intent' });
    expect(await credits.handleWebhook(renewal, sign(renewal), SECRET)).toBeNull();
    await expect(credits.fulfill(bare)).rejects.toThrow(/is not a payment/);
    await expect(credits.handleWebhook(completed, sign(completed), 'whsec_wrong')).rejects.toThrow(
      /webhook signature verification failed/,
    );
    await expect(credits.handleWebhook(`${completed} `, sign(completed), SECRET)).rejects.toThrow(/signature/);
    expect(purchases()).toHaveLength(1);
  });
});
