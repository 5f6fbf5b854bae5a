import { describe, expect, it } from 'vitest';
import { DAY, now } from '../helpers/cli.js';
import { Client, PASSWORD, addAccount, unmatchedPayment, consoleWorld, type ConsoleWorld } from '../helpers/console.js';
import { engines } from '../helpers/engines.js';

/**
 * A console preview shows what its confirm would write, or the refusal the confirm would meet: each
 * preview runs the write's own plan (its checks included), never a copy of it.
 */

const WRITES = /This will (write|take|close)/;

/** A signed-in client and its CSRF token. */
async function signedIn(url: string, name: string): Promise<{ c: Client; csrf: string }> {
  const c = new Client(url);
  expect((await c.signIn(name, PASSWORD)).status).toBe(303);
  return { c, csrf: Client.csrf((await c.request('/lookup')).text) };
}

const ledger = (w: ConsoleWorld) =>
  w.app.query<{ user_id: string; credits: number; kind: string; actor: string }>(
    'SELECT user_id, credits, kind, actor FROM credit_ledger ORDER BY id',
  );

describe.each(engines())('console previews (%s)', (engine) => {
  describe.concurrent('the preview is the write’s plan', () => {
    it('assign on a ledger of the other mode: the preview shows the refusal the confirm meets, not an entry to write', async (test) => {
      const w = await consoleWorld(engine, test);
      const pi = await unmatchedPayment(w);
      // The ledger already holds a live-mode purchase: a test-mode payment may not join it.
      await w.app.exec(
        `INSERT INTO credit_ledger (user_id, credits, kind, payment_key, payment_intent_id, amount, currency, livemode, actor, created_at)
         VALUES ('2', 10, 'purchase', 'pi_3LiveQ8mZt2Xw4Kp', 'pi_3LiveQ8mZt2Xw4Kp', 1000, 'usd', 1, 'webhook', ?)`,
        new Date().toISOString(),
      );
      await addAccount(w, 'sam', 'support');
      const { c, csrf } = await signedIn((await w.serve()).url, 'sam');
      const form = { csrf, payment: pi, user: '1', reason: 'ticket 4711' };
      const preview = await c.request('/assign/preview', { form });
      expect(preview.text).toContain('test and live payments never mix in one ledger');
      expect(preview.text).not.toMatch(WRITES);
      const confirm = await c.request('/assign', { form });
      expect([confirm.status, preview.status]).toEqual([400, 400]);
      expect(confirm.text).toContain('test and live payments never mix in one ledger');
      expect(await ledger(w)).toHaveLength(1);
    });

    it('a mapped app table gone missing: the assign and reassign previews refuse as their confirms do', async (test) => {
      const w = await consoleWorld(engine, test, {
        balance: { table: 'wallets', column: 'credits', key: 'owner_id' },
      });
      await w.app.exec('CREATE TABLE wallets (owner_id INTEGER PRIMARY KEY, credits INTEGER NOT NULL DEFAULT 0)');
      await w.app.exec('INSERT INTO wallets (owner_id, credits) VALUES (1, 0), (2, 0)');
      const credited = w.sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', amount: 1000 })
        .paymentIntent!.id;
      const pi = await unmatchedPayment(w);
      await w.app.exec('DROP TABLE wallets');
      await addAccount(w, 'sam', 'support');
      const { c, csrf } = await signedIn((await w.serve()).url, 'sam');
      for (const [path, payment] of [
        ['/assign', pi],
        ['/reassign', credited],
      ] as const) {
        const form = { csrf, payment, user: '2', reason: 'ticket 4711' };
        const preview = await c.request(`${path}/preview`, { form });
        expect(preview.text, path).toMatch(/balance table (&quot;|")wallets(&quot;|") not found/);
        expect(preview.text, path).not.toMatch(WRITES);
        expect(preview.status, path).toBe(400);
        const confirm = await c.request(path, { form });
        expect([path, confirm.status]).toEqual([path, 400]);
      }
      expect((await ledger(w)).map((e) => e.kind)).toEqual(['purchase']);
    });

    it('a refund in review of a payment moved to another user: the previews name who holds it now, and the confirm takes from them', async (test) => {
      const w = await consoleWorld(engine, test);
      const pi = w.sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', amount: 1000 })
        .paymentIntent!.id;
      const since = String(now() - 7 * DAY);
      expect((await w.cli(['reconcile', '--since', since, '--yes'])).code).toBe(0);
      const re = w.sim.store.refund(pi, undefined, { created: -60 })!.id;
      expect((await w.cli(['reconcile', '--since', since])).code).toBe(3);
      const moved = await w.cli(['assign', pi, '--user', '2', '--reason', 'ticket 4712: Ben paid', '--reassign']);
      expect(moved.code, moved.stderr).toBe(0);
      await addAccount(w, 'sam', 'support');
      const { c, csrf } = await signedIn((await w.serve()).url, 'sam');
      const dismiss = await c.request('/reversal/preview', {
        form: { csrf, id: re, action: 'dismiss', reason: 'goodwill' },
      });
      expect(dismiss.status, dismiss.text).toBe(200);
      expect(dismiss.text).toContain('user 2 keeps 10 credits');
      const form = { csrf, id: re, action: 'reverse', reason: 'refund approved' };
      const preview = await c.request('/reversal/preview', { form });
      expect(preview.status, preview.text).toBe(200);
      expect(preview.text).toContain('take 10 credits back from user 2');
      expect(preview.text).not.toContain('from user 1');
      expect((await c.request('/reversal', { form })).status).toBe(200);
      expect((await ledger(w)).filter((e) => e.kind === 'reversal')).toEqual([
        { user_id: '2', credits: -10, kind: 'reversal', actor: 'sam' },
      ]);
    });

    it('adjust over maxCreditsPerPayment: the preview shows the refusal, not the entry', async (test) => {
      const w = await consoleWorld(engine, test, { maxCreditsPerPayment: 100 });
      await addAccount(w, 'ada', 'admin');
      const { c, csrf } = await signedIn((await w.serve()).url, 'ada');
      const form = { csrf, user: '2', credits: '+500', reason: 'goodwill, ticket 4712' };
      const preview = await c.request('/adjust/preview', { form });
      expect(preview.text).toContain('is more than maxCreditsPerPayment (100)');
      expect(preview.text).not.toMatch(WRITES);
      expect(preview.status).toBe(400);
      expect(await ledger(w)).toEqual([]);
    });
  });

  describe.concurrent('audit resolve', () => {
    it('the preview shows the entry as the ledger holds it: a forged query or form value changes neither the page nor the entry written', async (test) => {
      const w = await consoleWorld(engine, test);
      expect((await w.cli(['migrate'])).code).toBe(0);
      const unbacked = 'cs_test_a1Qm7ZrT2vXy9LkPw3Nb8Hc4Df6Gj0Ks5Ue1Wo7Ri2Ya9Mt3Bn6Vx8Cz';
      await w.app.exec(
        `INSERT INTO credit_ledger (user_id, credits, kind, payment_key, checkout_session_id, amount, currency, livemode, actor, created_at)
         VALUES ('1', 500, 'purchase', ?, ?, 5000, 'usd', 0, 'old-webhook', ?)`,
        unbacked,
        unbacked,
        new Date(Date.now() - 7_200_000).toISOString(),
      );
      const [{ id }] = (await w.app.query<{ id: number }>('SELECT id FROM credit_ledger')) as [{ id: number }];
      await addAccount(w, 'ada', 'admin');
      const { c, csrf } = await signedIn((await w.serve()).url, 'ada');
      const forged = await c.request(`/audit/resolve?entry=${id}&reverse=1&credits=7&user=2`);
      expect(forged.status, forged.text).toBe(200);
      expect(forged.text).toContain('taking back the 500 credits');
      expect(forged.text).toContain('from user 1');
      expect(forged.text).not.toMatch(/\b7 credits|user 2/);
      const form = { csrf, entry: String(id), reverse: '1', credits: '7', user: '2', reason: 'no such payment' };
      const preview = await c.request('/audit/resolve/preview', { form });
      expect(preview.text).toContain('taking back the 500 credits of entry');
      expect(preview.text).toContain('from user 1');
      expect(preview.text).not.toMatch(/\b7 credits|user 2/);
      expect((await c.request('/audit/resolve', { form })).status).toBe(200);
      expect(await w.app.query("SELECT user_id, credits, actor FROM credit_ledger WHERE kind = 'correction'")).toEqual([
        { user_id: '1', credits: -500, actor: 'ada' },
      ]);
    });

    it('an entry Stripe backs as it is: the preview refuses as the confirm does', async (test) => {
      const w = await consoleWorld(engine, test);
      w.sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', amount: 1000 });
      expect((await w.cli(['reconcile', '--since', String(now() - 7 * DAY), '--yes'])).code).toBe(0);
      const [{ id }] = (await w.app.query<{ id: number }>('SELECT id FROM credit_ledger')) as [{ id: number }];
      await addAccount(w, 'ada', 'admin');
      const { c, csrf } = await signedIn((await w.serve()).url, 'ada');
      // Stripe backs it as it is: no finding, nothing to resolve.
      const form = { csrf, entry: String(id), reverse: '1', reason: 'looks wrong' };
      const preview = await c.request('/audit/resolve/preview', { form });
      expect(preview.status).toBe(400);
      expect(preview.text).toContain(`entry ${id} has no finding`);
      expect(preview.text).not.toMatch(/This will|Confirm/);
    });
  });

  it('the header links only to what the role may open: Adjust not for viewers, Runs and Audit for admins', async (test) => {
    const w = await consoleWorld(engine, test);
    await addAccount(w, 'vera', 'viewer');
    await addAccount(w, 'sam', 'support');
    await addAccount(w, 'ada', 'admin');
    const { url } = await w.serve();
    const nav = async (name: string) => {
      const { c } = await signedIn(url, name);
      const page = (await c.request('/lookup')).text;
      return [...(/<nav>([\s\S]*?)<\/nav>/.exec(page)?.[1] ?? '').matchAll(/href="([^"]+)"/g)].map((m) => m[1]);
    };
    expect(await nav('vera')).toEqual(['/review', '/lookup']);
    expect(await nav('sam')).toEqual(['/review', '/lookup', '/adjust']);
    expect(await nav('ada')).toEqual(['/review', '/lookup', '/adjust', '/runs', '/audit']);
  });
});
