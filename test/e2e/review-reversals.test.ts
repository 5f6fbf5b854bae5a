import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { openDatabase, parseDbUrl } from '../../src/ledger/db.js';
import { writeTransaction } from '../../src/ledger/engine.js';
import { readReversalState, upsertReversalReview } from '../../src/ledger/reversals.js';
import type { ReversalDecision } from '../../src/reconcile/types.js';
import { startSimulator } from '../../src/simulator/index.js';
import { runCli, tempDir, writeJson, now, DAY, type CliResult, type TestUser } from '../helpers/cli.js';
import { createAppDb, engines, type EngineName } from '../helpers/engines.js';

/** A --json document as the tests read it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type JsonDoc = any;

/**
 * Refunds and disputes of credited payments waiting in the review queue (the `review` policy):
 * `review` lists them beside the payments, `review reverse` takes the credits back with the person
 * as actor, `review dismiss` keeps them; through the real CLI on both engines.
 */

const KEY = 'sk_test_e2e_review_reversals';
const USERS: TestUser[] = [
  { id: 1, email: 'ann@example.com', name: 'Ann' },
  { id: 2, email: 'ben@example.com', name: 'Ben' },
];
const CONFIG = { credits: { unitAmountPerCredit: { usd: 10 } } };

async function world(engine: EngineName, test: TestContext) {
  const sim = await startSimulator({ apiKeys: [KEY] });
  const tmp = tempDir('sc-review-rev-');
  const app = await createAppDb(engine, tmp.dir, USERS);
  test.onTestFinished(async () => {
    await sim.close();
    await app.close();
    tmp.cleanup();
  });
  const cfg = writeJson(join(tmp.dir, 'config.json'), CONFIG);
  const cli = (args: string[], opts: { process?: boolean } = {}): Promise<CliResult> =>
    runCli([...args, '--db', app.url, '--config', cfg], {
      cwd: tmp.dir,
      env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url },
      ...opts,
    });
  const json = async (args: string[]) => {
    const r = await cli([...args, '--json']);
    return { ...r, doc: JSON.parse(r.stdout) as JsonDoc };
  };
  // Ann and Ben each buy 100 credits ($10); reconcile credits both.
  const since = now() - 3 * DAY;
  const ann = sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', amount: 1000 })
    .paymentIntent!.id;
  const ben = sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '2', amount: 1000 })
    .paymentIntent!.id;
  expect((await cli(['reconcile', '--since', String(since)])).code).toBe(0);

  /** What a run under the `review` policy queues (the lead's reconcile writes it so). */
  const queue = async (id: string, paymentKey: string, credits: number) => {
    const open = await openDatabase(parseDbUrl(app.url, tmp.dir), { readonly: false });
    try {
      const state = await readReversalState(
        open.db,
        [{ paymentKey, checkoutSession: null, paymentIntent: paymentKey, reversalIds: [id] }],
        null,
      );
      const purchase = state.purchases.get(paymentKey)!;
      const dispute = id.startsWith('dp_');
      const decision: ReversalDecision = {
        id,
        source: dispute ? 'dispute' : 'refund',
        paymentKey,
        userId: purchase.userId,
        credits,
        status: 'needs_review',
        reason: dispute ? 'disputed_after_credit' : 'refunded_after_credit',
        kind: 'reversal',
      };
      await writeTransaction(open.db, (trx) =>
        upsertReversalReview(trx, [{ decision, purchase, occurredAt: now() - 3600 }], 1),
      );
    } finally {
      await open.close();
    }
  };
  const ledger = () =>
    app.query<{ user_id: string; credits: number; kind: string; payment_key: string; actor: string; reason: string }>(
      'SELECT user_id, credits, kind, payment_key, actor, reason FROM credit_ledger ORDER BY id',
    );
  return { app, cli, json, queue, ledger, ann, ben };
}

function expectError(r: CliResult, code: number, pattern: RegExp): void {
  expect(r.code, `exit code; stderr: ${r.stderr}`).toBe(code);
  const first = r.stderr.split('\n')[0] ?? '';
  expect(first).toMatch(pattern);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

const RE = 're_3MtwBwLkdIwHu7ix0qQ1dD2E';
const DP = 'dp_1MtwBwLkdIwHu7ixAbCdEf12';

describe.each(engines())('review of refunds and disputes (%s)', (engine) => {
  describe.concurrent('review', () => {
    it('lists them beside the payments; reverse takes the credits back once, with the person as actor', async (test) => {
      const w = await world(engine, test);
      await w.queue(RE, w.ann, -40);
      await w.queue(DP, w.ben, -100);

      const list = await w.json(['review']);
      expect(list.code).toBe(0);
      expect(list.doc).toMatchObject({ open: 0, entries: [] });
      expect(list.doc.reversals).toEqual([
        expect.objectContaining({
          id: RE,
          source: 'refund',
          paymentKey: w.ann,
          userId: '1',
          credits: -40,
          reason: 'refunded_after_credit',
          amount: 1000,
          currency: 'usd',
          status: 'open',
        }),
        expect.objectContaining({
          id: DP,
          source: 'dispute',
          paymentKey: w.ben,
          userId: '2',
          credits: -100,
          reason: 'disputed_after_credit',
        }),
      ]);
      const human = await w.cli(['review']);
      expect(human.stdout).toMatch(/2 refunds or disputes of credited payments need a person/);
      expect(human.stdout).toContain(RE);
      expect(human.stdout).toMatch(/refunded_after_credit/);
      expect(human.stdout).toMatch(/review reverse ID --reason TEXT/);

      const r = await w.cli([
        'review',
        'reverse',
        RE,
        '--reason',
        'refund approved by support',
        '--actor',
        'ann.support',
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`Reversed ${RE} .*-40 credits for user 1, by ann.support`));
      expect((await w.ledger()).filter((e) => e.payment_key === RE)).toEqual([
        {
          user_id: '1',
          credits: -40,
          kind: 'reversal',
          payment_key: RE,
          actor: 'ann.support',
          reason: 'refund approved by support',
        },
      ]);

      // Once: a second reverse is refused, nothing written.
      const before = await w.app.fingerprint();
      expectError(await w.cli(['review', 'reverse', RE, '--reason', 'again']), 3, /already \(reversed/);
      expect(await w.app.fingerprint()).toBe(before);

      // The queue no longer lists it; balance shows the reversal with its kind.
      expect((await w.json(['review'])).doc.reversals.map((x: JsonDoc) => x.id)).toEqual([DP]);
      const bal = await w.json(['balance', '1']);
      expect(bal.doc.balance).toBe(60);
      expect(bal.doc.entries[0]).toMatchObject({
        kind: 'reversal',
        credits: -40,
        paymentKey: RE,
        paymentIntent: w.ann,
        actor: 'ann.support',
      });
      // lookup USER: the payment once (the reversal names it, under the refund's id).
      const look = await w.json(['lookup', '1']);
      expect(look.code, look.stderr).toBe(0);
      expect(look.doc.payments.map((p: JsonDoc) => p.paymentKey)).toEqual([w.ann]);
      const balText = await w.cli(['balance', '1']);
      expect(balText.stdout).toMatch(/60 credits/);
      expect(balText.stdout).toMatch(/reversal\s*│\s*-40/);
    });

    it('dismiss keeps the credits and is final: reverse is refused after it; bad input writes nothing', async (test) => {
      const w = await world(engine, test);
      await w.queue(DP, w.ben, -100);
      const before = await w.app.fingerprint();
      expectError(await w.cli(['review', 'reverse', DP]), 2, /--reason/);
      expectError(await w.cli(['review', 'reverse', DP, '--reason', ' ']), 2, /--reason is required/);
      expectError(
        await w.cli(['review', 'reverse', 're_3MtwBwLkdIwHu7ixNotQueued', '--reason', 'x']),
        2,
        /not in the review queue/,
      );
      expectError(await w.cli(['review', 'reverse', w.ben, '--reason', 'x']), 2, /not a refund or dispute id/);
      // The payment itself is credited, not in review: its dispute's entry is not its entry.
      expectError(await w.cli(['review', 'dismiss', w.ben, '--reason', 'x']), 2, /not in the review queue/);
      expect(await w.app.fingerprint()).toBe(before);

      const d = await w.json([
        'review',
        'dismiss',
        DP,
        '--reason',
        'customer won the dispute by mail',
        '--actor',
        'ben.support',
      ]);
      expect(d.code, d.stderr).toBe(0);
      expect(d.doc).toMatchObject({
        outcome: 'dismissed',
        id: DP,
        status: 'dismissed',
        dismissedBy: 'ben.support',
        reason: 'customer won the dispute by mail',
      });
      const again = await w.cli(['review', 'dismiss', DP, '--reason', 'again']);
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(/already dismissed by ben.support/);

      const after = await w.app.fingerprint();
      expectError(
        await w.cli(['review', 'reverse', DP, '--reason', 'changed my mind']),
        3,
        /was dismissed by ben.support/,
      );
      expect(await w.app.fingerprint()).toBe(after);
      expect((await w.ledger()).some((e) => e.kind === 'reversal')).toBe(false);
      expect((await w.json(['review'])).doc.reversals).toEqual([]);
    });

    it('two people reversing at once in separate processes: one reversal', async (test) => {
      const w = await world(engine, test);
      await w.queue(RE, w.ann, -40);
      const results = await Promise.all(
        ['a', 'b'].map((who) => w.cli(['review', 'reverse', RE, '--reason', who, '--actor', who], { process: true })),
      );
      expect(results.map((r) => r.code).sort()).toEqual([0, 3]);
      expect((await w.ledger()).filter((e) => e.kind === 'reversal')).toHaveLength(1);
    });
  });
});
