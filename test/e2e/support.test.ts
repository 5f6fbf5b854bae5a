import { userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { runCli, tempDir, writeJson, now, DAY, type CliResult, type TestUser } from '../helpers/cli.js';
import { createAppDb, engines, type EngineName } from '../helpers/engines.js';

/** A --json document as the tests read it: fields by name, checked by the assertions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type JsonDoc = any;

/**
 * The support commands (review, assign, adjust, balance, lookup) through the real CLI, against a
 * real SQLite file or Postgres database (every test on each engine) and the Stripe simulator driven
 * by the real SDK.
 */

const KEY = 'sk_test_e2e_support';

const USERS: TestUser[] = [
  { id: 1, email: 'ann@example.com', name: 'Ann', stripe_customer_id: 'cus_ann' },
  { id: 2, email: 'ben@example.com', name: 'Ben' },
  { id: 3, email: 'shared@example.com', name: 'Cat' },
  { id: 4, email: 'shared@example.com', name: 'Dan' },
];
/** 1 credit per dollar. */
const CONFIG = { credits: { unitAmountPerCredit: { usd: 100 } } };

interface LedgerRow {
  id: number;
  user_id: string;
  credits: number;
  kind: string;
  payment_key: string | null;
  actor: string;
  reason: string | null;
  run_id: number | null;
}

/**
 * One test's world: its own simulator, app database and config. Takes the test's context: the
 * tests run concurrently, and only the context's onTestFinished knows which test it belongs to.
 */
async function world(engine: EngineName, test: TestContext, config: Record<string, unknown> = CONFIG) {
  const sim: StripeSimulator = await startSimulator({ apiKeys: [KEY] });
  const tmp = tempDir('sc-support-');
  const app = await createAppDb(engine, tmp.dir, USERS, { customerColumn: true });
  test.onTestFinished(async () => {
    await sim.close();
    await app.close();
    tmp.cleanup();
  });
  const db = app.url;
  const cfg = writeJson(join(tmp.dir, 'config.json'), config);
  const since = now() - 7 * DAY;

  // `process: true` for races: each writer a process of its own, as in production (two SQLite
  // connections in one thread would wait on each other's lock with the event loop blocked).
  const cli = (
    args: string[],
    env: Record<string, string | undefined> = {},
    opts: { process?: boolean } = {},
  ): Promise<CliResult> =>
    runCli([...args, '--db', db, '--config', cfg], {
      cwd: tmp.dir,
      env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url, ...env },
      ...opts,
    });
  /** Runs with --json and parses stdout (which must be exactly one document). */
  const json = async <T = JsonDoc>(args: string[], opts: { process?: boolean } = {}) => {
    const r = await cli([...args, '--json'], {}, opts);
    let doc: T;
    try {
      doc = JSON.parse(r.stdout) as T;
    } catch {
      throw new Error(`no JSON on stdout (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
    }
    return { ...r, doc };
  };
  const reconcile = (opts: { process?: boolean } = {}) => json(['reconcile', '--since', String(since)], opts);
  const ledger = (key?: string) =>
    app.query<LedgerRow>(
      `SELECT id, user_id, credits, kind, payment_key, actor, reason, run_id FROM credit_ledger ${key ? 'WHERE payment_key = ?' : ''} ORDER BY id`,
      ...(key ? [key] : []),
    );
  const reviewRow = async (key: string) =>
    (
      await app.query<{ status: string; reason: string; resolved_by: string | null; resolution: string | null }>(
        'SELECT status, reason, resolved_by, resolution FROM stripe_credits_review WHERE payment_key = ?',
        key,
      )
    )[0];
  const tables = () => app.tables();
  /** Everything in the database, to check that a command changed nothing. */
  const fingerprint = () => app.fingerprint();
  return { sim, dir: tmp.dir, app, db, cfg, since, cli, json, reconcile, ledger, reviewRow, tables, fingerprint };
}

/** The first stderr line is the one-line error; no stack trace. */
function expectError(r: CliResult, code: number, pattern: RegExp): void {
  expect(r.code, `exit code; stderr: ${r.stderr}`).toBe(code);
  const first = r.stderr.split('\n')[0] ?? '';
  expect(first).toMatch(/^stripe-credits: \S/);
  expect(first).toMatch(pattern);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

const t = (daysAgo: number) => now() - Math.round(daysAgo * DAY);

describe.each(engines())('support commands (%s)', (engine) => {
  describe.concurrent('review', () => {
    it('lists what reconcile queued, oldest first, with what a person needs to decide', async (test) => {
      const w = await world(engine, test);
      // Created newest first: the list must follow payment time, not insertion.
      const invalid = w.sim.store.createCheckoutPayment({
        created: t(2),
        clientReferenceId: '1',
        metadata: { credits: 'lots' },
        amount: 700,
      }).paymentIntent!.id;
      const nobody = w.sim.store.createCheckoutPayment({
        created: t(3),
        email: 'nobody@example.org',
        name: 'Eve Nobody',
        amount: 2500,
      }).paymentIntent!.id;
      const shared = w.sim.store.createCheckoutPayment({ created: t(4), email: 'shared@example.com', amount: 500 })
        .paymentIntent!.id;
      w.sim.store.createCheckoutPayment({ created: t(5), clientReferenceId: '2', amount: 1000 }); // credited: not in review
      const run = await w.reconcile();
      expect(run.code, run.stderr).toBe(3);

      const r = await w.json(['review']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.doc.open).toBe(3);
      expect(r.doc.entries.map((e: { paymentKey: string }) => e.paymentKey)).toEqual([shared, nobody, invalid]);
      expect(r.doc.entries[0]).toMatchObject({
        reason: 'ambiguous_email',
        amount: 500,
        currency: 'usd',
        emails: ['shared@example.com'],
        candidates: [
          { id: '3', email: 'shared@example.com', name: 'Cat' },
          { id: '4', email: 'shared@example.com', name: 'Dan' },
        ],
        status: 'open',
      });
      expect(r.doc.entries[1]).toMatchObject({
        reason: 'no_user',
        emails: ['nobody@example.org'],
        name: 'Eve Nobody',
        candidates: [],
      });
      expect(r.doc.entries[2]).toMatchObject({ reason: 'invalid_credits' });

      const text = await w.cli(['review']);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/3 payments need a person \(oldest first\)/);
      const at = [shared, nobody, invalid].map((k) => text.stdout.indexOf(k));
      expect(at.every((i) => i > 0)).toBe(true);
      expect(at).toEqual([...at].sort((a, b) => a - b));
      expect(text.stdout).toMatch(/"Cat"/);
      expect(text.stdout).toMatch(/Eve Nobody/);
    });

    it('is read-only and works on a database the tool never touched', async (test) => {
      const w = await world(engine, test);
      const before = await w.fingerprint();
      const r = await w.json(['review']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.doc).toEqual({ open: 0, entries: [], reversals: [] });
      const text = await w.cli(['review']);
      expect(text.stdout).toMatch(/review queue is empty/);
      expect(await w.fingerprint()).toBe(before);
      expect(await w.tables()).toEqual(['users']);
    });

    it('dismiss closes an entry without crediting, keeps who and why, and reconcile does not reopen it', async (test) => {
      const w = await world(engine, test);
      const p = w.sim.store.createCheckoutPayment({ created: t(2), email: 'nobody@example.org', amount: 900 })
        .paymentIntent!.id;
      expect((await w.reconcile()).code).toBe(3);

      expectError(await w.cli(['review', 'dismiss', p]), 2, /--reason/);
      expectError(await w.cli(['review', 'dismiss', p, '--reason', '   ']), 2, /--reason/);
      expectError(
        await w.cli(['review', 'dismiss', 'pi_3NotQueuedAtAll', '--reason', 'x']),
        2,
        /not in the review queue/,
      );
      expect(await w.reviewRow(p)).toMatchObject({ status: 'open' });

      const d = await w.json(['review', 'dismiss', p, '--reason', 'staff test payment', '--actor', 'carol']);
      expect(d.code, d.stderr).toBe(0);
      expect(d.doc).toMatchObject({
        outcome: 'dismissed',
        paymentKey: p,
        status: 'dismissed',
        dismissedBy: 'carol',
        reason: 'staff test payment',
      });
      expect(await w.reviewRow(p)).toEqual({
        status: 'dismissed',
        reason: 'no_user',
        resolved_by: 'carol',
        resolution: 'staff test payment',
      });
      expect((await w.json(['review'])).doc.entries).toEqual([]);

      // The next run sees the payment again: not new, not reopened, not credited.
      const again = await w.reconcile();
      expect(again.code, again.stderr).toBe(0);
      expect(again.doc.newInReview).toEqual([]);
      expect(await w.reviewRow(p)).toEqual({
        status: 'dismissed',
        reason: 'no_user',
        resolved_by: 'carol',
        resolution: 'staff test payment',
      });
      expect(await w.ledger(p)).toEqual([]);
      expect((await w.json(['review'])).doc.entries).toEqual([]);

      // Even once the chain could match it (the customer signs up), reconcile respects the dismissal.
      await w.app.exec('INSERT INTO users (id, email, name) VALUES (77, ?, ?)', 'nobody@example.org', 'No Body');
      const later = await w.reconcile();
      expect(later.code, later.stderr).toBe(0);
      expect(later.doc.items.find((i: { paymentKey: string }) => i.paymentKey === p)).toMatchObject({
        status: 'skipped',
        reason: 'dismissed',
      });
      expect(await w.ledger(p)).toEqual([]);

      // Dismissing again changes nothing and keeps the first who and why.
      const twice = await w.cli(['review', 'dismiss', p, '--reason', 'other', '--actor', 'dave']);
      expect(twice.code, twice.stderr).toBe(0);
      expect(twice.stdout).toMatch(/already dismissed by carol/);
      expect(await w.reviewRow(p)).toMatchObject({ resolved_by: 'carol', resolution: 'staff test payment' });
    });
  });

  describe.concurrent('assign', () => {
    it('credits a queued payment to the named user, with actor and reason, and closes its review entry', async (test) => {
      const w = await world(engine, test);
      const p = w.sim.store.createCheckoutPayment({ created: t(2), email: 'nobody@example.org', amount: 2500 })
        .paymentIntent!.id;
      expect((await w.reconcile()).code).toBe(3);

      const r = await w.json([
        'assign',
        p,
        '--user',
        'ben@example.com',
        '--reason',
        'wrote from another address',
        '--actor',
        'alice',
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.doc).toMatchObject({
        outcome: 'credited',
        paymentKey: p,
        userId: '2',
        credits: 25,
        creditSource: 'unit_amount',
        reviewClosed: true,
        actor: 'alice',
      });
      expect(await w.ledger()).toEqual([
        {
          id: expect.any(Number),
          user_id: '2',
          credits: 25,
          kind: 'purchase',
          payment_key: p,
          actor: 'alice',
          reason: 'wrote from another address',
          run_id: null,
        },
      ]);
      expect(await w.reviewRow(p)).toMatchObject({
        status: 'resolved',
        resolved_by: 'alice',
        resolution: expect.stringMatching(/assigned to user 2: wrote from another address/),
      });
      expect((await w.json(['review'])).doc.entries).toEqual([]);

      // Already credited: exit 3, names the user it went to, writes nothing.
      const before = await w.ledger();
      const again = await w.cli(['assign', p, '--user', '1', '--reason', 'again']);
      expectError(again, 3, /already credited to user 2/);
      expect(again.stderr).toMatch(/--reassign/);
      const asJson = await w.json(['assign', p, '--user', '1', '--reason', 'again']);
      expect(asJson.code).toBe(3);
      expect(asJson.doc).toEqual({
        error: { exitCode: 3, message: expect.stringMatching(/already credited to user 2/) },
      });
      expect(await w.ledger()).toEqual(before);

      // A later run counts it as credited and writes nothing.
      const run = await w.reconcile();
      expect(run.code, run.stderr).toBe(0);
      expect(run.doc.counts).toMatchObject({ alreadyCredited: 1, credited: 0 });
      expect(await w.ledger()).toEqual(before);
    });

    it('takes --credits where no rule gives a valid amount, and a Checkout Session id', async (test) => {
      const w = await world(engine, test);
      const p = w.sim.store.createCheckoutPayment({
        created: t(2),
        clientReferenceId: '1',
        metadata: { credits: 'lots' },
        amount: 700,
      });
      expect((await w.reconcile()).code).toBe(3);
      const cs = p.session.id;
      const pi = p.paymentIntent!.id;

      expectError(await w.cli(['assign', cs, '--user', '1', '--reason', 'r']), 2, /no valid credit amount/);
      expectError(await w.cli(['assign', cs, '--user', '1', '--reason', 'r', '--credits', '0']), 2, /--credits/);
      expectError(await w.cli(['assign', cs, '--user', '1', '--reason', 'r', '--credits', 'seven']), 2, /--credits/);
      expectError(await w.cli(['assign', cs, '--user', '1', '--reason', 'r', '--credits', '-7']), 2, /--credits/);
      expect(await w.ledger()).toEqual([]);

      const r = await w.json(['assign', cs, '--user', '1', '--reason', 'agreed 7 with the customer', '--credits', '7']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.doc).toMatchObject({
        outcome: 'credited',
        paymentKey: pi,
        checkoutSession: cs,
        userId: '1',
        credits: 7,
        creditSource: 'override',
      });
      expect(await w.ledger()).toMatchObject([
        { user_id: '1', credits: 7, kind: 'purchase', payment_key: pi, actor: userInfo().username },
      ]);
      expect(await w.reviewRow(pi)).toMatchObject({ status: 'resolved' });
    });

    it('refuses what is not a payment it can credit, and bad input, writing nothing', async (test) => {
      const w = await world(engine, test);
      const s = w.sim.store;
      const pending = s.createCheckoutPayment({
        created: t(2),
        clientReferenceId: '1',
        amount: 1000,
        paymentStatus: 'unpaid',
      }).paymentIntent!.id;
      const refunded = s.createCheckoutPayment({
        created: t(2),
        clientReferenceId: '1',
        amount: 1000,
        refundedAmount: 1000,
      }).paymentIntent!.id;
      const expired = s.createCheckoutPayment({
        created: t(2),
        clientReferenceId: '1',
        amount: 1000,
        status: 'expired',
      }).session.id;
      const subscription = s.createCheckoutPayment({
        created: t(2),
        clientReferenceId: '1',
        amount: 1000,
        mode: 'subscription',
      }).session.id;
      const bare = s.createPaymentIntent({ created: t(2), amount: 1000 }).paymentIntent.id; // standalone, no metadata: not a payment by default
      const failed = s.createCheckoutPayment({
        created: t(2),
        amount: 1000,
        paymentStatus: 'unpaid',
        piStatus: 'requires_payment_method',
      }).session.id;
      const good = s.createCheckoutPayment({ created: t(2), email: 'nobody@example.org', amount: 1000 }).paymentIntent!
        .id;
      const before = await w.fingerprint();
      const assign = (id: string, ...extra: string[]) =>
        w.cli(['assign', id, '--user', '2', '--reason', 'test', ...extra]);

      expectError(await assign(pending), 2, /not settled|pending|processing/);
      expectError(await assign(refunded), 2, /refunded/);
      expectError(await assign(expired), 2, /not a payment.*expired/);
      expectError(await assign(subscription), 2, /subscription/);
      expectError(await assign(bare), 2, /not a payment/);
      expectError(await assign(failed), 2, /not a payment.*requires_payment_method/);
      expectError(await assign('pi_3DoesNotExist0000000000'), 2, /Stripe has no PaymentIntent/);
      expectError(await assign('ch_3Whatever'), 2, /not a Checkout Session or PaymentIntent id/);
      expectError(await w.cli(['assign', good, '--user', '2']), 2, /--reason/);
      expectError(await w.cli(['assign', good, '--user', '2', '--reason', '']), 2, /--reason/);
      expectError(await w.cli(['assign', good, '--reason', 'x']), 2, /--user/);
      expectError(await w.cli(['assign', good, '--user', '42', '--reason', 'x']), 2, /no user with id or email '42'/);
      const ambiguous = await w.cli(['assign', good, '--user', 'Shared@Example.com', '--reason', 'x']);
      expectError(ambiguous, 2, /matches 2 users/);
      expect(ambiguous.stderr).toMatch(/3 \(shared@example\.com, "Cat"\); 4 \(shared@example\.com, "Dan"\)/);
      expect(await w.fingerprint()).toBe(before);
      expect(await w.tables()).toEqual(['users']);
    });

    // Fourteen commands one after the other while the other tests run theirs: room on two cores.
    it(
      '--reassign corrects a wrong assignment: every entry kept, the payment counts once',
      { timeout: 180_000 },
      async (test) => {
        const w = await world(engine, test);
        const bought = w.sim.store.createCheckoutPayment({ created: t(2), clientReferenceId: '1', amount: 1000 });
        const p = bought.paymentIntent!.id;
        expect((await w.reconcile()).code).toBe(0);
        expect(await w.ledger(p)).toMatchObject([{ user_id: '1', credits: 10, kind: 'purchase' }]);

        const refused = await w.cli(['assign', p, '--user', '2', '--reason', 'x']);
        expectError(refused, 3, /already credited to user 1 \(10 credits, by run 1/);

        const moved = await w.json([
          'assign',
          p,
          '--user',
          '2',
          '--reason',
          'Ben paid from Ann’s card',
          '--reassign',
          '--actor',
          'alice',
        ]);
        expect(moved.code, moved.stderr).toBe(0);
        expect(moved.doc).toMatchObject({
          outcome: 'reassigned',
          userId: '2',
          previousUserId: '1',
          credits: 10,
          creditSource: 'purchase',
        });
        expect(
          moved.doc.entries.map((e: { kind: string; userId: string; credits: number }) => [
            e.kind,
            e.userId,
            e.credits,
          ]),
        ).toEqual([
          ['reassign_out.1', '1', -10],
          ['reassign_in.1', '2', 10],
        ]);
        const balance = async (u: string) => (await w.json(['balance', u])).doc.balance as number;
        expect([await balance('1'), await balance('2')]).toEqual([0, 10]);

        // And back again (by email, and by the Checkout Session id: --reassign asks Stripe nothing, the
        // ledger holds the entry under the PaymentIntent id): a second pair; nothing is deleted or changed.
        const back = await w.json([
          'assign',
          bought.session.id,
          '--user',
          'ann@example.com',
          '--reason',
          'it was Ann after all',
          '--reassign',
          '--actor',
          'bob',
        ]);
        expect(back.code, back.stderr).toBe(0);
        const rows = await w.ledger(p);
        expect(rows.map((r) => [r.kind, r.user_id, r.credits, r.actor])).toEqual([
          ['purchase', '1', 10, userInfo().username],
          ['reassign_out.1', '1', -10, 'alice'],
          ['reassign_in.1', '2', 10, 'alice'],
          ['reassign_out.2', '2', -10, 'bob'],
          ['reassign_in.2', '1', 10, 'bob'],
        ]);
        expect(rows.filter((r) => r.kind === 'purchase')).toHaveLength(1);
        expect(rows.reduce((s, r) => s + r.credits, 0)).toBe(10);
        expect([await balance('1'), await balance('2')]).toEqual([10, 0]);

        // To the user who already has it: nothing written.
        const same = await w.json(['assign', p, '--user', '1', '--reason', 'x', '--reassign']);
        expect(same.code, same.stderr).toBe(0);
        expect(same.doc).toMatchObject({ outcome: 'unchanged', entries: [] });
        // Without --reassign the refusal names the user who has it now.
        expectError(
          await w.cli(['assign', p, '--user', '2', '--reason', 'x']),
          3,
          /already credited to user 1.*reassigned 2×/,
        );
        expectError(
          await w.cli(['assign', p, '--user', '2', '--reason', 'x', '--reassign', '--credits', '5']),
          2,
          /--credits cannot be combined with --reassign/,
        );
        const unpaid = w.sim.store.createCheckoutPayment({ created: t(1), email: 'nobody@example.org', amount: 1000 })
          .paymentIntent!.id;
        expectError(
          await w.cli(['assign', unpaid, '--user', '2', '--reason', 'x', '--reassign']),
          2,
          /not credited to anyone yet/,
        );
        expect(await w.ledger(p)).toHaveLength(5);

        // Reconcile still sees one credited payment.
        const run = await w.reconcile();
        expect(run.doc.counts).toMatchObject({ alreadyCredited: 1, credited: 0 });
        expect(await w.ledger(p)).toHaveLength(5);
        const look = await w.json(['lookup', p]);
        expect(look.doc.ledger).toMatchObject({
          credited: true,
          holderUserId: '1',
          credits: 10,
          netCredits: 10,
          reassignments: 2,
        });
      },
    );

    it('two reassignments at once: the unique index lets exactly one through', async (test) => {
      const w = await world(engine, test);
      const p = w.sim.store.createCheckoutPayment({ created: t(2), clientReferenceId: '1', amount: 1000 })
        .paymentIntent!.id;
      await w.reconcile();
      const [a, b] = await Promise.all([
        w.cli(['assign', p, '--user', '2', '--reason', 'a', '--reassign'], {}, { process: true }),
        w.cli(['assign', p, '--user', '3', '--reason', 'b', '--reassign'], {}, { process: true }),
      ]);
      const codes = [a.code, b.code].sort();
      // Either both ran one after the other (the second moved it again), or one lost the race (exit 3).
      expect([
        [0, 0],
        [0, 3],
      ]).toContainEqual(codes);
      const rows = await w.ledger(p);
      expect(rows.filter((r) => r.kind === 'purchase')).toHaveLength(1);
      expect(rows.reduce((s, r) => s + r.credits, 0)).toBe(10);
      expect(new Set(rows.map((r) => r.kind)).size).toBe(rows.length);
    });

    it('a later reconcile credits a queued payment once it can match it, and closes the entry', async (test) => {
      const w = await world(engine, test);
      const p = w.sim.store.createCheckoutPayment({ created: t(2), email: 'newbie@example.com', amount: 1500 })
        .paymentIntent!.id;
      expect((await w.reconcile()).code).toBe(3);
      expect((await w.json(['review'])).doc.entries.map((e: { paymentKey: string }) => e.paymentKey)).toEqual([p]);

      // The customer signs up with that email.
      await w.app.exec('INSERT INTO users (id, email, name) VALUES (5, ?, ?)', 'newbie@example.com', 'New Bie');

      const run = await w.reconcile();
      expect(run.code, run.stderr).toBe(0);
      expect(run.doc.items.find((i: { paymentKey: string }) => i.paymentKey === p)).toMatchObject({
        status: 'credited',
        userId: '5',
        matchedBy: 'email',
        credits: 15,
      });
      expect(await w.reviewRow(p)).toMatchObject({ status: 'resolved' });
      expect((await w.json(['review'])).doc.entries).toEqual([]);
      expect(await w.ledger(p)).toMatchObject([{ user_id: '5', credits: 15, kind: 'purchase' }]);
    });

    it('assign racing reconcile in separate processes credits each payment once', async (test) => {
      const w = await world(engine, test);
      const keys: string[] = [];
      for (let i = 0; i < 6; i++)
        keys.push(
          w.sim.store.createCheckoutPayment({ created: t(2) + i, clientReferenceId: '1', amount: 1000 }).paymentIntent!
            .id,
        );
      // A database never migrated: the processes also race to create the tables.
      const [run, ...assigns] = await Promise.all([
        w.reconcile({ process: true }),
        ...keys.map((k) =>
          w.cli(['assign', k, '--user', '2', '--reason', 'race', '--actor', 'racer'], {}, { process: true }),
        ),
      ]);
      expect(run!.code, run!.stderr).toBe(0);
      const rows = await w.ledger();
      expect(rows.filter((r) => r.kind === 'purchase')).toHaveLength(keys.length);
      expect(new Set(rows.map((r) => r.payment_key))).toEqual(new Set(keys));
      let reconciled = 0;
      for (const [i, k] of keys.entries()) {
        const a = assigns[i]!;
        const [row] = await w.ledger(k);
        if (a.code === 0) {
          expect(row).toMatchObject({ user_id: '2', actor: 'racer', run_id: null });
        } else {
          expectError(a, 3, /already credited.*to user 1/);
          expect(row).toMatchObject({ user_id: '1', run_id: expect.any(Number) });
          reconciled += 1;
        }
      }
      // What the run says it wrote is what it wrote; the others it reports as already credited.
      expect(run!.doc.creditsWritten).toBe(10 * reconciled);
      expect(run!.doc.counts.credited).toBe(reconciled);
    });
  });

  describe.concurrent('adjust and balance', () => {
    it('adjust writes a manual entry with actor and reason; balance sums, newest first', async (test) => {
      const w = await world(engine, test);
      const p = w.sim.store.createCheckoutPayment({ created: t(2), clientReferenceId: '1', amount: 1000 })
        .paymentIntent!.id;
      expect((await w.reconcile()).code).toBe(0);

      const plus = await w.cli(['adjust', '--user', '1', '--credits', '50', '--reason', 'goodwill after outage']);
      expect(plus.code, plus.stderr).toBe(0);
      expect(plus.stdout).toMatch(/\+50 credits.*Balance now 60 credits/s);
      const minus = await w.json([
        'adjust',
        '--user',
        'ANN@example.com',
        '--credits',
        '-20',
        '--reason',
        'double goodwill',
        '--actor',
        'bob',
      ]);
      expect(minus.code, minus.stderr).toBe(0);
      expect(minus.doc).toMatchObject({
        userId: '1',
        credits: -20,
        balance: 40,
        entry: { kind: 'manual', paymentKey: null, actor: 'bob', reason: 'double goodwill' },
      });
      expect((await w.ledger()).filter((r) => r.kind === 'manual')).toEqual([
        {
          id: expect.any(Number),
          user_id: '1',
          credits: 50,
          kind: 'manual',
          payment_key: null,
          actor: userInfo().username,
          reason: 'goodwill after outage',
          run_id: null,
        },
        {
          id: expect.any(Number),
          user_id: '1',
          credits: -20,
          kind: 'manual',
          payment_key: null,
          actor: 'bob',
          reason: 'double goodwill',
          run_id: null,
        },
      ]);

      const b = await w.json(['balance', '1']);
      expect(b.code, b.stderr).toBe(0);
      expect(b.doc.userId).toBe('1');
      expect(b.doc.balance).toBe(40);
      expect(
        b.doc.entries.map((e: { kind: string; credits: number; paymentKey: string | null }) => [
          e.kind,
          e.credits,
          e.paymentKey,
        ]),
      ).toEqual([
        ['manual', -20, null],
        ['manual', 50, null],
        ['purchase', 10, p],
      ]);
      const ids = b.doc.entries.map((e: { id: number }) => e.id);
      expect(ids).toEqual([...ids].sort((x: number, y: number) => y - x));
      expect((await w.json(['balance', 'ann@example.com'])).doc.balance).toBe(40);
      expect((await w.json(['balance', '2'])).doc).toMatchObject({ userId: '2', balance: 0, entries: [] });
      const text = await w.cli(['balance', '1']);
      expect(text.stdout).toMatch(/user 1 \(ann@example\.com, "Ann"\): 40 credits/);
      expect(text.stdout).toMatch(/goodwill after outage/);
    });

    it('adjust refuses a missing reason, zero, a non-number and an ambiguous or unknown user', async (test) => {
      const w = await world(engine, test);
      const before = await w.fingerprint();
      expectError(await w.cli(['adjust', '--user', '1', '--credits', '5']), 2, /--reason/);
      expectError(await w.cli(['adjust', '--user', '1', '--credits', '5', '--reason', ' ']), 2, /--reason/);
      expectError(await w.cli(['adjust', '--user', '1', '--credits', '0', '--reason', 'x']), 2, /--credits 0/);
      expectError(await w.cli(['adjust', '--user', '1', '--credits', '-0', '--reason', 'x']), 2, /--credits 0/);
      expectError(await w.cli(['adjust', '--user', '1', '--credits', '1.5', '--reason', 'x']), 2, /--credits/);
      expectError(await w.cli(['adjust', '--user', '1', '--credits', 'ten', '--reason', 'x']), 2, /--credits/);
      expectError(await w.cli(['adjust', '--user', '1', '--reason', 'x']), 2, /--credits/);
      expectError(
        await w.cli(['adjust', '--user', '1', '--credits', '100001', '--reason', 'x']),
        2,
        /maxCreditsPerPayment/,
      );
      const amb = await w.json(['adjust', '--user', 'shared@example.com', '--credits', '5', '--reason', 'x']);
      expect(amb.code).toBe(2);
      expect(amb.doc.error.message).toMatch(/matches 2 users: 3 .*; 4 /);
      expectError(
        await w.cli(['adjust', '--user', 'nobody@example.org', '--credits', '5', '--reason', 'x']),
        2,
        /no user with id or email/,
      );
      expect(await w.fingerprint()).toBe(before);
    });

    it('balance is read-only and works on a database the tool never touched; an unknown user is exit 2', async (test) => {
      const w = await world(engine, test);
      const before = await w.fingerprint();
      const b = await w.json(['balance', '1']);
      expect(b.code, b.stderr).toBe(0);
      expect(b.doc).toMatchObject({ userId: '1', balance: 0, entries: [] });
      expectError(await w.cli(['balance', '99']), 2, /no user with id or email '99'/);
      expectError(await w.cli(['balance', 'shared@example.com']), 2, /matches 2 users/);
      expect(await w.fingerprint()).toBe(before);
      // Also after writes: reading changes nothing.
      await w.cli(['adjust', '--user', '1', '--credits', '5', '--reason', 'x']);
      const after = await w.fingerprint();
      expect((await w.json(['balance', '1'])).doc.balance).toBe(5);
      expect(await w.fingerprint()).toBe(after);
    });
  });

  describe.concurrent('lookup', () => {
    it('a payment: what Stripe says, how the chain matches it and why, and what the ledger holds', async (test) => {
      const w = await world(engine, test);
      const shared = w.sim.store.createCheckoutPayment({ created: t(3), email: 'shared@example.com', amount: 500 })
        .paymentIntent!.id;
      const byEmail = w.sim.store.createCheckoutPayment({
        created: t(2),
        clientReferenceId: '999',
        email: 'ann@example.com',
        name: 'Ann A.',
        amount: 1000,
        metadata: { order: 'A-17' },
      });
      const fresh = await w.json(['lookup', shared]);
      // Before any run: the database has no tool tables, and lookup still answers (read-only).
      expect(fresh.code, fresh.stderr).toBe(0);
      expect(fresh.doc.ledger).toMatchObject({ credited: false, entries: [] });
      expect(await w.tables()).toEqual(['users']);
      expect((await w.reconcile()).code).toBe(3);

      const a = await w.json(['lookup', shared]);
      expect(a.code, a.stderr).toBe(0);
      expect(a.doc).toMatchObject({
        kind: 'payment',
        paymentKey: shared,
        amount: 500,
        stripe: {
          state: 'paid',
          checkoutSession: { status: 'complete', paymentStatus: 'paid', customerDetailsEmail: 'shared@example.com' },
          paymentIntent: { status: 'succeeded', refunded: false },
        },
        chain: {
          status: 'needs_review',
          reason: 'ambiguous_email',
          userId: null,
          steps: [{ step: 'email', value: 'shared@example.com', userIds: ['3', '4'] }],
        },
        ledger: { credited: false, entries: [] },
        review: { status: 'open', reason: 'ambiguous_email', candidates: [{ id: '3' }, { id: '4' }] },
        record: { status: 'needs_review', reason: 'ambiguous_email' },
        verdict: expect.stringMatching(/NOT credited: needs a person/),
      });

      const cs = byEmail.session.id;
      const pi = byEmail.paymentIntent!.id;
      const b = await w.json(['lookup', cs]);
      expect(b.code, b.stderr).toBe(0);
      expect(b.doc).toMatchObject({
        paymentKey: pi,
        checkoutSession: cs,
        stripe: {
          state: 'paid',
          checkoutSession: { clientReferenceId: '999', name: 'Ann A.', metadata: { order: 'A-17' } },
        },
        chain: {
          status: 'would_credit',
          userId: '1',
          matchedBy: 'email',
          credits: 10,
          creditRule: 'unit_amount',
          steps: [
            { step: 'id', field: 'client_reference_id', value: '999', userIds: [] },
            { step: 'email', value: 'ann@example.com', userIds: ['1'] },
          ],
        },
        ledger: {
          credited: true,
          holderUserId: '1',
          credits: 10,
          entries: [{ kind: 'purchase', userId: '1', credits: 10, paymentKey: pi }],
        },
        verdict: 'credited: 10 credits with user 1',
      });

      const text = await w.cli(['lookup', pi]);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/Stripe says:/);
      expect(text.stdout).toMatch(/PaymentIntent pi_\S+: succeeded/);
      expect(text.stdout).toMatch(/client_reference_id 999 -> no user has this id: passed over/);
      expect(text.stdout).toMatch(/email ann@example\.com -> user 1/);
      expect(text.stdout).toMatch(/name "Ann A\." \(a hint for people, never matched\)/);
      expect(text.stdout).toMatch(/The ledger holds:[\s\S]*purchase[\s\S]*\+10/);

      expectError(await w.cli(['lookup', 'pi_3NobodyKnowsThisOne000']), 2, /neither Stripe nor the ledger knows/);
      // A session Stripe does not know (another account, or deleted test data) whose entry the ledger
      // holds under its PaymentIntent id: found by reading the ledger, not reported unknown.
      await w.app.exec(
        `INSERT INTO credit_ledger (user_id, credits, kind, payment_key, checkout_session_id, payment_intent_id, livemode, actor, created_at) VALUES ('2', 7, 'purchase', 'pi_3GoneFromStripe00000000', 'cs_test_GoneFromStripe', 'pi_3GoneFromStripe00000000', 0, 'test', '2026-11-01T00:00:00.000Z')`,
      );
      const gone = await w.json(['lookup', 'cs_test_GoneFromStripe']);
      expect(gone.code, gone.stderr).toBe(0);
      expect(gone.doc.ledger).toMatchObject({ credited: true, holderUserId: '2', credits: 7 });
      expectError(await w.cli(['lookup', 'cs_nonsense!']), 2, /not a Checkout Session or PaymentIntent id/);
    });

    it('a refunded or pending payment says so', async (test) => {
      const w = await world(engine, test);
      const refunded = w.sim.store.createCheckoutPayment({
        created: t(2),
        clientReferenceId: '1',
        amount: 1000,
        refundedAmount: 1000,
      }).paymentIntent!.id;
      const pending = w.sim.store.createCheckoutPayment({
        created: t(2),
        clientReferenceId: '1',
        amount: 1000,
        paymentStatus: 'unpaid',
      }).paymentIntent!.id;
      const r = await w.json(['lookup', refunded]);
      expect(r.doc).toMatchObject({
        stripe: { state: 'refunded', paymentIntent: { refunded: true } },
        chain: { status: 'skipped', reason: 'refunded' },
        verdict: expect.stringMatching(/skipped \(refunded\)/),
      });
      const p = await w.json(['lookup', pending]);
      expect(p.doc).toMatchObject({
        stripe: { state: 'pending', checkoutSession: { paymentStatus: 'unpaid' } },
        chain: { status: 'pending' },
        verdict: expect.stringMatching(/not settled/),
      });
    });

    it('a user: the customers they paid as, learned from their ledger entries, find their other payments', async (test) => {
      // No customer column in the users table: the customer is known only from the credited payment.
      const w = await world(engine, test);
      const s = w.sim.store;
      const credited = s.createCheckoutPayment({
        created: t(5),
        clientReferenceId: '1',
        customer: 'cus_zed',
        email: 'zed@elsewhere.example',
        amount: 1000,
      }).paymentIntent!.id;
      expect((await w.reconcile()).code).toBe(0);
      // The same customer again, with no reference and an email no user has: it needs a person.
      const again = s.createCheckoutPayment({
        created: t(1),
        customer: 'cus_zed',
        email: 'zed@elsewhere.example',
        amount: 2000,
      }).paymentIntent!.id;
      expect((await w.reconcile()).code).toBe(3);

      const r = await w.json(['lookup', '1']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.doc.customerIds).toEqual(['cus_zed']);
      const rows = new Map<string, JsonDoc>(r.doc.payments.map((p: { paymentKey: string }) => [p.paymentKey, p]));
      expect([...rows.keys()].sort()).toEqual([credited, again].sort());
      expect(rows.get(again)).toMatchObject({ ledger: null, chain: { status: 'needs_review' } });
      expect(rows.get(credited)).toMatchObject({ ledger: { holderUserId: '1', credits: 10 } });
      expect(r.doc.entries).toMatchObject([{ kind: 'purchase', matchedBy: 'client_reference_id' }]);
    });

    it('a user (by id or email): their payments side by side with their ledger entries', async (test) => {
      const w = await world(engine, test, { ...CONFIG, users: { stripeCustomerId: 'stripe_customer_id' } });
      const s = w.sim.store;
      // Credited by a run through client_reference_id: Stripe cannot list it by user; the tool's record has it.
      const byRef = s.createCheckoutPayment({ created: t(5), clientReferenceId: '1', amount: 1000 }).paymentIntent!.id;
      const other = s.createCheckoutPayment({ created: t(5), clientReferenceId: '2', amount: 1000 }).paymentIntent!.id;
      expect((await w.reconcile()).code).toBe(0);
      // Paid since the last run, not credited yet: found live in Stripe by email and by customer.
      const byEmail = s.createCheckoutPayment({ created: t(1), email: 'ann@example.com', amount: 2000 }).paymentIntent!
        .id;
      const byCustomer = s.createCheckoutPayment({ created: t(1) + 60, customer: 'cus_ann', amount: 3000 })
        .paymentIntent!.id;
      const standalone = s.createPaymentIntent({
        created: t(1) + 600,
        customer: 'cus_ann',
        amount: 400,
        metadata: { credits: '4' },
      }).paymentIntent.id;
      await w.cli(['adjust', '--user', '1', '--credits', '5', '--reason', 'welcome bonus']);
      w.sim.resetRequestLog();

      const r = await w.json(['lookup', '1']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.doc).toMatchObject({
        kind: 'user',
        user: { id: '1', email: 'ann@example.com', name: 'Ann' },
        balance: 15,
        customerIds: ['cus_ann'],
      });
      const rows = new Map<string, JsonDoc>(r.doc.payments.map((p: { paymentKey: string }) => [p.paymentKey, p]));
      expect([...rows.keys()].sort()).toEqual([byRef, byEmail, byCustomer, standalone].sort());
      expect(rows.has(other)).toBe(false);
      expect(rows.get(byRef)).toMatchObject({
        foundBy: expect.arrayContaining(['ledger']),
        stripe: 'paid',
        ledger: { holderUserId: '1', credits: 10 },
        note: null,
      });
      expect(rows.get(byEmail)).toMatchObject({
        foundBy: ['stripe:email'],
        stripe: 'paid',
        ledger: null,
        chain: { status: 'would_credit', userId: '1', matchedBy: 'email', credits: 20 },
        note: expect.stringMatching(/paid, NOT credited/),
      });
      expect(rows.get(byCustomer)).toMatchObject({
        foundBy: ['stripe:customer'],
        ledger: null,
        chain: { status: 'would_credit', userId: '1', matchedBy: 'customer', credits: 30 },
      });
      expect(rows.get(standalone)).toMatchObject({
        foundBy: ['stripe:customer'],
        chain: { status: 'would_credit', userId: '1', credits: 4 },
      });
      expect(r.doc.payments.map((p: { paymentKey: string }) => p.paymentKey)[0]).toBe(standalone); // newest first
      expect(r.doc.entries.map((e: { kind: string; credits: number }) => [e.kind, e.credits])).toEqual([
        ['manual', 5],
        ['purchase', 10],
      ]);
      // Stripe was asked what it can answer: sessions by customer_details[email] and by customer.
      const asked = w.sim.requests.filter((q) => q.endpoint === 'GET /v1/checkout/sessions').map((q) => q.query);
      expect(asked).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ customer_details: { email: 'ann@example.com' } }),
          expect.objectContaining({ customer: 'cus_ann' }),
        ]),
      );

      const byMail = await w.json(['lookup', 'Ann@Example.com']);
      expect(byMail.doc.user).toMatchObject({ id: '1' });
      expect(byMail.doc.payments.map((p: { paymentKey: string }) => p.paymentKey).sort()).toEqual(
        [...rows.keys()].sort(),
      );

      const text = await w.cli(['lookup', '1']);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/user 1 \(ann@example\.com, "Ann"\): balance 15 credits/);
      expect(text.stdout).toMatch(/paid, NOT credited/);
      expect(text.stdout).toMatch(/Ledger entries of user 1/);
      expect(text.stdout).toMatch(/welcome bonus/);
    });

    it("a Stripe customer (cus_…) is its user's lookup: from the users column, the ledger, else Stripe's payments", async (test) => {
      const col = await world(engine, test, { ...CONFIG, users: { stripeCustomerId: 'stripe_customer_id' } });
      const byCol = await col.json(['lookup', 'cus_ann']);
      expect(byCol.code, byCol.stderr).toBe(0);
      expect(byCol.doc).toMatchObject({ kind: 'user', query: 'cus_ann', user: { id: '1' }, customerIds: ['cus_ann'] });
      expect(byCol.doc.notes).toEqual(expect.arrayContaining([expect.stringMatching(/users\.stripe_customer_id/)]));

      // No customer column configured: what the tool recorded, then what Stripe's chain makes of the customer's payments.
      const w = await world(engine, test);
      const s = w.sim.store;
      const credited = s.createCheckoutPayment({
        created: t(3),
        customer: 'cus_NffrFeUfNV2Hib',
        clientReferenceId: '2',
        amount: 1000,
      }).paymentIntent!.id;
      expect((await w.reconcile()).code).toBe(0);
      const byLedger = await w.json(['lookup', 'cus_NffrFeUfNV2Hib']);
      expect(byLedger.code, byLedger.stderr).toBe(0);
      expect(byLedger.doc).toMatchObject({ user: { id: '2', email: 'ben@example.com' }, balance: 10 });
      expect(byLedger.doc.customerIds).toContain('cus_NffrFeUfNV2Hib');
      expect(byLedger.doc.payments.map((p: { paymentKey: string }) => p.paymentKey)).toContain(credited);
      // Moved to another user: the customer's payment is now theirs.
      const moved = await w.cli([
        'assign',
        credited,
        '--user',
        '1',
        '--reason',
        'ticket 4716: paid for Ann',
        '--reassign',
      ]);
      expect(moved.code, moved.stderr).toBe(0);
      expect((await w.json(['lookup', 'cus_NffrFeUfNV2Hib'])).doc.user).toMatchObject({ id: '1' });

      const unpaid = s.createCheckoutPayment({
        created: t(1),
        customer: 'cus_Q3xkLm8Ab2Zt',
        email: 'ann@example.com',
        amount: 700,
      }).paymentIntent!.id;
      const byStripe = await w.json(['lookup', 'cus_Q3xkLm8Ab2Zt']);
      expect(byStripe.code, byStripe.stderr).toBe(0);
      expect(byStripe.doc.user).toMatchObject({ id: '1' });
      expect(byStripe.doc.payments.find((p: { paymentKey: string }) => p.paymentKey === unpaid)).toMatchObject({
        ledger: null,
        chain: { userId: '1', matchedBy: 'email' },
      });
      const text = await w.cli(['lookup', 'cus_Q3xkLm8Ab2Zt']);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/user 1 \(ann@example\.com, "Ann"\)/);

      s.createCheckoutPayment({ created: t(1), customer: 'cus_Shr4dPay3r9X', clientReferenceId: '1', amount: 500 });
      s.createCheckoutPayment({ created: t(1), customer: 'cus_Shr4dPay3r9X', clientReferenceId: '2', amount: 500 });
      expectError(
        await w.cli(['lookup', 'cus_Shr4dPay3r9X']),
        2,
        /cus_Shr4dPay3r9X belongs to 2 users.*1 \(ann@example\.com\); 2 \(ben@/,
      );
      expectError(
        await w.cli(['lookup', 'cus_Nob0dyKn0ws1']),
        2,
        /no user is known for Stripe customer cus_Nob0dyKn0ws1/,
      );
      const help = await w.cli(['lookup', '--help']);
      expect(help.stdout).toMatch(
        /QUERY is a payment \(cs_…, pi_…\), a user id, an email, or a Stripe customer \(cus_…\)/,
      );
    });

    it('an email no user has still shows its payments; an ambiguous email or unknown id is exit 2', async (test) => {
      const w = await world(engine, test);
      const p = w.sim.store.createCheckoutPayment({ created: t(2), email: 'stranger@example.org', amount: 1000 })
        .paymentIntent!.id;
      const r = await w.json(['lookup', 'stranger@example.org']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.doc).toMatchObject({ kind: 'user', user: null, balance: 0, entries: [] });
      expect(r.doc.payments).toMatchObject([
        {
          paymentKey: p,
          foundBy: ['stripe:email'],
          chain: { status: 'needs_review', reason: 'no_user' },
          note: expect.stringMatching(/needs review \(no_user\)/),
        },
      ]);
      const amb = await w.cli(['lookup', 'shared@example.com']);
      expectError(amb, 2, /matches 2 users/);
      expectError(await w.cli(['lookup', '12345']), 2, /no user with id or email '12345'/);
      expectError(await w.cli(['lookup', '1'], { STRIPE_API_KEY: undefined }), 2, /STRIPE_API_KEY/);
    });
  });
});
