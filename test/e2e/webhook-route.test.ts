import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { createAppDb, query, tempDir, now, ROOT, writeJson } from '../helpers/cli.js';

/**
 * The framework route handler docs/library.md shows (examples/next-route.ts), run as it is: imported
 * through the package's own name, called with Web Requests signed as Stripe signs them.
 */

const KEY = 'sk_test_e2e_route';
const SECRET = 'whsec_test_route';

describe('the documented webhook route handler (examples/next-route.ts)', () => {
  let sim: StripeSimulator;
  let tmp: ReturnType<typeof tempDir>;
  let db: string;
  let POST: (req: Request) => Promise<Response>;
  const saved = { ...process.env };
  const cwd = process.cwd();

  beforeAll(async () => {
    sim = await startSimulator({ apiKeys: [KEY] });
    tmp = tempDir('sc-route-');
    db = createAppDb(
      join(tmp.dir, 'app.db'),
      [1, 2].map((id) => ({ id, email: `u${id}@example.com` })),
    );
    writeJson(join(tmp.dir, 'stripe-credits.config.json'), { credits: { unitAmountPerCredit: { usd: 100 } } });
    Object.assign(process.env, {
      DATABASE_URL: db,
      STRIPE_API_KEY: KEY,
      STRIPE_API_BASE: sim.url,
      STRIPE_WEBHOOK_SECRET: SECRET,
    });
    process.chdir(tmp.dir); // the example names its config file relative to the app's directory
    ({ POST } = await import('../../examples/next-route.js'));
  });
  afterAll(async () => {
    process.chdir(cwd);
    process.env = saved;
    await sim.close();
    tmp.cleanup();
  });

  const signed = (type: string, object: unknown, secret = SECRET) => {
    const payload = JSON.stringify({ id: 'evt_test_route', object: 'event', type, data: { object } });
    return new Request('http://127.0.0.1/api/stripe/webhook', {
      method: 'POST',
      body: payload,
      headers: { 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret }) },
    });
  };

  it('credits a completed checkout once, ignores other events, and answers 400 to a bad signature', async () => {
    const p = sim.store.createCheckoutPayment({ created: now() - 600, clientReferenceId: '2', amount: 3000 });
    const first = await POST(signed('checkout.session.completed', { id: p.session.id, object: 'checkout.session' }));
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ received: true, status: 'credited' });
    const again = await POST(signed('payment_intent.succeeded', { id: p.paymentIntent!.id, object: 'payment_intent' }));
    expect(await again.json()).toEqual({ received: true, status: 'already_credited' });
    const other = await POST(signed('customer.created', { id: 'cus_1', object: 'customer' }));
    expect(await other.json()).toEqual({ received: true, status: 'ignored' });
    const forged = await POST(
      signed('checkout.session.completed', { id: p.session.id, object: 'checkout.session' }, 'whsec_forged'),
    );
    expect(forged.status).toBe(400);
    expect(await forged.text()).toMatch(/signature/);
    expect(query(db, "SELECT user_id, credits FROM credit_ledger WHERE kind = 'purchase'")).toEqual([
      { user_id: '2', credits: 30 },
    ]);
  });

  it('is the code docs/library.md shows, verbatim', () => {
    const example = readFileSync(join(ROOT, 'examples', 'next-route.ts'), 'utf8').trim();
    expect(readFileSync(join(ROOT, 'docs', 'library.md'), 'utf8')).toContain(example);
  });
});
