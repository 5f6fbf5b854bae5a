import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { createStripeCredits } from '../../src/index.js';
import { parseConfig } from '../../src/config.js';
import { openDatabase, parseDbUrl, migrateToLatest } from '../../src/ledger/db.js';
import { Planner, writePlan } from '../../src/app/plan-writer.js';
import { fetchPaymentById } from '../../src/stripe/payment-by-id.js';
import { createStripeClient } from '../../src/stripe/client.js';
import { StripeReader } from '../../src/stripe/reader.js';
import { DEFAULT_RETRY } from '../../src/stripe/retry.js';
import { runCli, tempDir, writeJson, now, DAY, HOUR, type CliResult } from '../helpers/cli.js';
import { createAppDb, engines, pgConnect, type AppDb, type EngineName } from '../helpers/engines.js';

/**
 * Adopting a live app (SPEC "Adopting an app that already credits", issue 7): its own ledger table
 * already holds credits written by its webhook, keyed by Checkout Session ids for some payments and
 * PaymentIntent ids for others. The tool must see them, credit exactly the rest, in the app's shape,
 * and never twice, also against the library's fulfill in another process.
 */

const KEY = 'sk_test_e2e_adopt';

/** The app's own table, as an app would have made it: no unique index on the reference. */
function appLedgerDdl(engine: EngineName): string {
  return engine === 'postgres'
    ? `CREATE TABLE credit_transactions (
         id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL, amount INTEGER NOT NULL, stripe_id TEXT,
         type TEXT NOT NULL, note TEXT, created_at TIMESTAMPTZ NOT NULL DEFAULT now())`
    : `CREATE TABLE credit_transactions (
         id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, amount INTEGER NOT NULL, stripe_id TEXT,
         type TEXT NOT NULL, note TEXT, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)`;
}

const MAPPED = {
  credits: { unitAmountPerCredit: { usd: 100 } },
  ledger: {
    table: 'credit_transactions',
    columns: { userId: 'user_id', credits: 'amount', paymentRef: 'stripe_id', createdAt: 'created_at' },
    set: { type: 'purchase' },
    setManual: { type: 'adjustment', note: 'by support' },
  },
};

interface AppRow {
  user_id: number;
  amount: number;
  stripe_id: string | null;
  type: string;
  note: string | null;
}

describe.each(engines())('adopting an app that already credits (%s)', (engine) => {
  let sim: StripeSimulator;
  let tmp: ReturnType<typeof tempDir>;
  let app: AppDb;

  beforeEach(async () => {
    sim = await startSimulator({ apiKeys: [KEY] });
    tmp = tempDir('sc-adopt-');
    app = await createAppDb(
      engine,
      tmp.dir,
      [1, 2, 3].map((id) => ({ id, email: `u${id}@example.com` })),
    );
    await app.exec(appLedgerDdl(engine));
  });
  afterEach(async () => {
    await sim.close();
    await app.close();
    tmp.cleanup();
  });

  const cli = (args: string[], config: object = MAPPED, opts: { process?: boolean } = {}): Promise<CliResult> =>
    runCli([...args, '--db', app.url, '--config', writeJson(join(tmp.dir, 'config.json'), config)], {
      cwd: tmp.dir,
      env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url },
      ...opts,
    });
  const json = async (args: string[], config: object = MAPPED) => {
    const r = await cli([...args, '--json'], config);
    try {
      return { ...r, doc: JSON.parse(r.stdout) };
    } catch {
      throw new Error(`exit ${r.code}: ${r.stderr}`);
    }
  };
  const appRows = () =>
    app.query<AppRow>('SELECT user_id, amount, stripe_id, type, note FROM credit_transactions ORDER BY id');
  const appRefs = async () =>
    (await appRows())
      .map((r) => r.stripe_id)
      .filter((x): x is string => x !== null)
      .sort();
  const toolPurchases = async () =>
    (
      await app.query<{ payment_key: string }>(
        "SELECT payment_key FROM credit_ledger WHERE kind = 'purchase' ORDER BY payment_key",
      )
    ).map((r) => r.payment_key);
  const pay = (created: number, user: string, amount = 1000) =>
    sim.store.createCheckoutPayment({ created, clientReferenceId: user, amount });

  it("credits exactly the payments the app's table does not hold (by session id or PaymentIntent id), in the app's shape, once", async () => {
    const bySession = [pay(now() - 3 * DAY, '1'), pay(now() - 2 * DAY, '2')];
    const byIntent = [pay(now() - 3 * DAY + 60, '2'), pay(now() - DAY, '3')];
    const rest = [pay(now() - 2 * DAY + 60, '1', 2500), pay(now() - 5 * HOUR, '3', 4000)];
    for (const p of bySession)
      await app.exec(
        "INSERT INTO credit_transactions (user_id, amount, stripe_id, type) VALUES (?, 10, ?, 'stripe')",
        Number(p.session.client_reference_id),
        p.session.id,
      );
    for (const p of byIntent)
      await app.exec(
        "INSERT INTO credit_transactions (user_id, amount, stripe_id, type) VALUES (?, 10, ?, 'stripe')",
        Number(p.session.client_reference_id),
        p.paymentIntent!.id,
      );

    // A dry run before the tool ever touched the database already sees the app's credits, and writes nothing.
    const before = await app.fingerprint();
    const dry = await json(['reconcile', '--dry-run', '--since', '7d']);
    expect(dry.code, dry.stderr).toBe(3);
    expect(dry.doc.counts).toMatchObject({ payments: 6, wouldCredit: 2, alreadyCredited: 4 });
    expect(await app.fingerprint()).toBe(before);

    // The app's table shows credits the tool can see: this is not a blind first run, no --yes needed.
    const run = await json(['reconcile']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.doc.counts).toMatchObject({ payments: 6, credited: 2, alreadyCredited: 4 });
    expect(run.doc.items.map((i: { paymentKey: string }) => i.paymentKey).sort()).toEqual(
      rest.map((p) => p.paymentIntent!.id).sort(),
    );

    // Written in the app's shape: its user id, its credits column, the PaymentIntent id (refKind default), its `set` constants.
    const written = (await appRows()).filter((r) => r.type === 'purchase');
    expect(written.sort((a, b) => a.amount - b.amount)).toEqual([
      { user_id: 1, amount: 25, stripe_id: rest[0]!.paymentIntent!.id, type: 'purchase', note: null },
      { user_id: 3, amount: 40, stripe_id: rest[1]!.paymentIntent!.id, type: 'purchase', note: null },
    ]);
    const created = await app.query<{ created_at: unknown }>(
      "SELECT created_at FROM credit_transactions WHERE type = 'purchase'",
    );
    for (const c of created)
      expect(Math.abs(new Date(c.created_at as string).getTime() - Date.now())).toBeLessThan(10 * 60_000);
    // Who wrote them and why stays in the tool's own record.
    expect(await toolPurchases()).toEqual(rest.map((p) => p.paymentIntent!.id).sort());

    // A rerun over the same window, and a scan over all of it, write nothing more.
    const again = await json(['reconcile', '--since', '7d']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.doc.counts).toMatchObject({ credited: 0, alreadyCredited: 6 });
    expect(await appRows()).toHaveLength(6);

    // The balance is what the app reads: the sum of its own table.
    const bal = await json(['balance', '1']);
    expect(bal.doc).toMatchObject({ balance: 35, balanceSource: 'SUM(credit_transactions.amount)' });

    // lookup says who credited a payment the tool never wrote.
    const look = await json(['lookup', bySession[0]!.paymentIntent!.id]);
    expect(look.doc.appLedger).toEqual({ table: 'credit_transactions', refs: [bySession[0]!.session.id] });
    expect(look.doc.verdict).toMatch(/^credited by the app: credit_transactions holds cs_/);
    // assign refuses it (exit 3) and says who credited it; nothing is written.
    const assign = await cli(['assign', bySession[0]!.session.id, '--user', '3', '--reason', 'support ticket 12']);
    expect(assign.code, assign.stderr).toBe(3);
    expect(assign.stderr).toMatch(/already credited by the app itself \(credit_transactions holds cs_/);
    expect(await appRows()).toHaveLength(6);
  });

  it('writes the Checkout Session id when refKind says so, and adjust writes a manual row with setManual', async () => {
    const p = pay(now() - HOUR, '2', 1500);
    await app.exec(
      "INSERT INTO credit_transactions (user_id, amount, stripe_id, type) VALUES (1, 5, 'cs_test_unrelated', 'stripe')",
    );
    const config = { ...MAPPED, ledger: { ...MAPPED.ledger, refKind: 'checkout_session' } };
    const run = await json(['reconcile', '--since', '1d'], config);
    expect(run.code, run.stderr).toBe(0);
    expect(await appRefs()).toEqual(['cs_test_unrelated', p.session.id].sort());

    const adj = await json(['adjust', '--user', '2', '--credits', '-5', '--reason', 'goodwill reversal'], config);
    expect(adj.code, adj.stderr).toBe(0);
    expect(adj.doc.balance).toBe(10);
    expect((await appRows()).at(-1)).toEqual({
      user_id: 2,
      amount: -5,
      stripe_id: null,
      type: 'adjustment',
      note: 'by support',
    });
  });

  it('assign --reassign moves a credit the tool wrote as two manual rows of the app (no reference)', async () => {
    const p = pay(now() - HOUR, '1', 2000);
    await app.exec(
      "INSERT INTO credit_transactions (user_id, amount, stripe_id, type) VALUES (2, 10, 'pi_older', 'stripe')",
    );
    expect((await cli(['reconcile', '--since', '1d'])).code).toBe(0);
    const moved = await json([
      'assign',
      p.paymentIntent!.id,
      '--user',
      '3',
      '--reason',
      'bought for a colleague',
      '--reassign',
    ]);
    expect(moved.code, moved.stderr).toBe(0);
    expect((await appRows()).slice(-3)).toEqual([
      { user_id: 1, amount: 20, stripe_id: p.paymentIntent!.id, type: 'purchase', note: null },
      { user_id: 1, amount: -20, stripe_id: null, type: 'adjustment', note: 'by support' },
      { user_id: 3, amount: 20, stripe_id: null, type: 'adjustment', note: 'by support' },
    ]);
    expect((await json(['balance', '3'])).doc.balance).toBe(20);
  });

  it('references the tool cannot read keep the first-run stop, naming them; a baseline clears it', async () => {
    const old = pay(now() - 3 * DAY, '1');
    const fresh = pay(now() - HOUR, '2');
    // The app stored the charge id for this one (and a prefixed id for an older one): invisible to the tool.
    await app.exec(
      "INSERT INTO credit_transactions (user_id, amount, stripe_id, type) VALUES (1, 10, 'ch_3OldCharge', 'stripe')",
    );
    await app.exec(
      "INSERT INTO credit_transactions (user_id, amount, stripe_id, type) VALUES (1, 10, ?, 'stripe')",
      `stripe:${old.paymentIntent!.id}`,
    );
    await app.exec(
      "INSERT INTO credit_transactions (user_id, amount, stripe_id, type) VALUES (3, 10, 'pi_3Readable', 'stripe')",
    );
    const refused = await cli(['reconcile']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(
      /^stripe-credits: refusing the first run without --since: 2 references in credit_transactions\.stripe_id are not PaymentIntent or Checkout Session ids \(e\.g\. /,
    );
    expect(refused.stderr).toContain('ch_3OldCharge');
    expect(await app.tables()).not.toContain('credit_ledger'); // refused before anything was written

    expect((await cli(['baseline', '--until', String(now() - 2 * DAY)])).code).toBe(0);
    const run = await json(['reconcile']);
    expect(run.code, run.stderr).toBe(0);
    expect(await toolPurchases()).toEqual([fresh.paymentIntent!.id]);
  });

  it('a fixed-width reference column (CHAR(n), blank-padded on Postgres) still shows what the app credited', async () => {
    await app.exec(
      engine === 'postgres'
        ? 'CREATE TABLE padded_credits (user_id INTEGER NOT NULL, amount INTEGER NOT NULL, stripe_id CHAR(64), paid BOOLEAN NOT NULL, created_unix BIGINT NOT NULL)'
        : 'CREATE TABLE Padded_Credits (User_Id INTEGER NOT NULL, amount INTEGER NOT NULL, stripe_id CHAR(64), paid BOOLEAN NOT NULL, created_unix BIGINT NOT NULL)',
    );
    const credited = pay(now() - 2 * HOUR, '1');
    const rest = pay(now() - HOUR, '2');
    await app.exec(
      `INSERT INTO padded_credits (user_id, amount, stripe_id, paid, created_unix) VALUES (1, 10, ?, ${engine === 'postgres' ? 'true' : '1'}, 0)`,
      credited.paymentIntent!.id,
    );
    // Mixed case on SQLite, whose names are case-insensitive; a boolean constant; unix seconds.
    const config = {
      credits: MAPPED.credits,
      ledger: {
        table: engine === 'sqlite' ? 'padded_CREDITS' : 'padded_credits',
        columns: { userId: 'user_id', credits: 'amount', paymentRef: 'stripe_id', createdAt: 'created_unix' },
        set: { paid: true },
        createdAtFormat: 'unix',
      },
    };
    const run = await json(['reconcile', '--since', '1d'], config);
    expect(run.code, run.stderr).toBe(0);
    expect(run.doc.counts).toMatchObject({ credited: 1, alreadyCredited: 1 });
    const rows = await app.query<{ stripe_id: string; paid: unknown; created_unix: unknown }>(
      'SELECT stripe_id, paid, created_unix FROM padded_credits WHERE created_unix > 0',
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.stripe_id.trim()).toBe(rest.paymentIntent!.id);
    expect([true, 1]).toContain(rows[0]!.paid);
    expect(Math.abs(Number(rows[0]!.created_unix) - now())).toBeLessThan(600);
  });

  it('baseline then reconcile credits nothing older than the line', async () => {
    const line = now() - 2 * DAY;
    const old = [pay(now() - 5 * DAY, '1'), pay(now() - 3 * DAY, '2')];
    const fresh = pay(now() - DAY, '3');
    // The app credited the old ones by means the tool cannot see (say, a balance it bumped); its table is empty.
    const base = await json(['baseline', '--until', String(line)]);
    expect(base.code, base.stderr).toBe(0);
    expect(base.doc).toMatchObject({ baselined: 2 });
    const run = await json(['reconcile', '--since', '30d']);
    expect(run.code, run.stderr).toBe(0);
    expect(await appRefs()).toEqual([fresh.paymentIntent!.id]);
    const look = await json(['lookup', old[0]!.session.id]);
    expect(look.doc.baseline).toMatchObject({ until: new Date(line * 1000).toISOString() });
    expect(look.doc.verdict).toMatch(/^baselined/);
  });

  it("the library's fulfill racing reconcile in another process credits each payment once in the app's table", async () => {
    const keys: string[] = [];
    for (let i = 0; i < 40; i++) keys.push(pay(now() - DAY + i * 60, String((i % 3) + 1)).paymentIntent!.id);
    await app.exec(
      "INSERT INTO credit_transactions (user_id, amount, stripe_id, type) VALUES (1, 10, 'pi_seen_before', 'stripe')",
    );
    const lib = createStripeCredits({
      db: app.url,
      stripeApiKey: KEY,
      stripeApiBase: sim.url,
      config: MAPPED,
      cwd: tmp.dir,
    });
    try {
      const [r, items] = await Promise.all([
        cli(['reconcile', '--since', '2d', '--json'], MAPPED, { process: true }),
        Promise.all(keys.map((k) => lib.fulfill(k))),
      ]);
      expect([0, 3]).toContain(r.code);
      expect(items.every((i) => i.status === 'credited' || i.status === 'already_credited')).toBe(true);
    } finally {
      await lib.close();
    }
    const refs = (await appRefs()).filter((x) => x !== 'pi_seen_before');
    expect(refs).toHaveLength(40);
    expect(new Set(refs).size).toBe(40);
    expect(await toolPurchases()).toEqual([...keys].sort());
  });

  it("a payment the app's own webhook credits after the run looked is not credited again", async () => {
    const p = pay(now() - HOUR, '2');
    const config = parseConfig(MAPPED);
    const open = await openDatabase(parseDbUrl(app.url, tmp.dir), { readonly: false });
    try {
      await migrateToLatest(open.db);
      const reader = new StripeReader(
        createStripeClient({ apiKey: KEY, apiBase: sim.url }),
        DEFAULT_RETRY,
        'sk_test_…',
      );
      const fetched = await fetchPaymentById(reader, p.session.id, config);
      const planner = new Planner(open.db, config, true, false);
      await planner.decide([fetched!.payment!]);
      expect(planner.plan.decision(0)).toMatchObject({ status: 'credited' });
      // The app's webhook writes its own row, by session id, between the decision and the write.
      await app.exec(
        "INSERT INTO credit_transactions (user_id, amount, stripe_id, type) VALUES (2, 10, ?, 'stripe')",
        p.session.id,
      );
      const out = await writePlan(open.db, planner.plan, { runId: null, actor: 'test', adoption: config });
      expect(out.creditsWritten).toBe(0);
      expect(planner.plan.decision(0)).toMatchObject({ status: 'already_credited' });
    } finally {
      await open.close();
    }
    expect(await appRows()).toHaveLength(1);
    expect(await toolPurchases()).toEqual([]);
  });

  if (engine === 'postgres')
    it("the app's unique index refusing a payment its webhook just committed costs only that payment", async () => {
      await app.exec('CREATE UNIQUE INDEX credit_transactions_stripe_id_key ON credit_transactions (stripe_id)');
      const raced = pay(now() - HOUR, '1');
      const other = pay(now() - HOUR + 60, '2');
      const config = parseConfig(MAPPED);
      const open = await openDatabase(parseDbUrl(app.url, tmp.dir), { readonly: false });
      const webhook = await pgConnect(app.url);
      try {
        await migrateToLatest(open.db);
        const reader = new StripeReader(
          createStripeClient({ apiKey: KEY, apiBase: sim.url }),
          DEFAULT_RETRY,
          'sk_test_…',
        );
        const planner = new Planner(open.db, config, true, false);
        for (const p of [raced, other])
          await planner.decide([(await fetchPaymentById(reader, p.session.id, config))!.payment!]);
        // The app's webhook has inserted the same PaymentIntent id, not committed yet: the tool's check
        // cannot see it, and its insert waits on the unique index until the webhook commits.
        await webhook.query('BEGIN');
        await webhook.query(
          "INSERT INTO credit_transactions (user_id, amount, stripe_id, type) VALUES (1, 10, $1, 'stripe')",
          [raced.paymentIntent!.id],
        );
        const writing = writePlan(open.db, planner.plan, { runId: null, actor: 'test', adoption: config });
        await new Promise((r) => setTimeout(r, 500));
        await webhook.query('COMMIT');
        const out = await writing;
        expect(out.creditsWritten).toBe(10);
        expect([planner.plan.decision(0).status, planner.plan.decision(1).status]).toEqual([
          'already_credited',
          'credited',
        ]);
      } finally {
        await webhook.end();
        await open.close();
      }
      expect(await appRefs()).toEqual([raced.paymentIntent!.id, other.paymentIntent!.id].sort());
      expect(await toolPurchases()).toEqual([other.paymentIntent!.id]);
    });

  it('a mapped table or column that does not exist is a configuration error (exit 2), and nothing is written', async () => {
    pay(now() - HOUR, '1');
    const noTable = await cli(['reconcile', '--since', '1d'], {
      ...MAPPED,
      ledger: { ...MAPPED.ledger, table: 'credit_txns' },
    });
    expect(noTable.code).toBe(2);
    expect(noTable.stderr).toMatch(/^stripe-credits: ledger table "credit_txns" not found/);
    const noColumn = await cli(['reconcile', '--since', '1d'], {
      ...MAPPED,
      ledger: { ...MAPPED.ledger, columns: { ...MAPPED.ledger.columns, paymentRef: 'stripe_ref' } },
    });
    expect(noColumn.code).toBe(2);
    expect(noColumn.stderr).toMatch(
      /^stripe-credits: ledger table "credit_transactions" has no column "stripe_ref" \(ledger\.columns\.paymentRef\); it has: id, user_id, amount, stripe_id, type, note, created_at/,
    );
    expect(await appRows()).toEqual([]);
  });
});

describe.each(engines())('an app that keeps only a balance on the user row (%s)', (engine) => {
  let sim: StripeSimulator;
  let tmp: ReturnType<typeof tempDir>;
  let app: AppDb;
  const CONFIG = {
    credits: { unitAmountPerCredit: { usd: 100 } },
    balance: { table: 'users', column: 'credits', key: 'id' },
  };

  beforeEach(async () => {
    sim = await startSimulator({ apiKeys: [KEY] });
    tmp = tempDir('sc-balance-');
    app = await createAppDb(
      engine,
      tmp.dir,
      [1, 2, 3].map((id) => ({ id, email: `u${id}@example.com` })),
    );
    await app.exec('ALTER TABLE users ADD COLUMN credits INTEGER NOT NULL DEFAULT 0');
    await app.exec('UPDATE users SET credits = 7 WHERE id = 2');
  });
  afterEach(async () => {
    await sim.close();
    await app.close();
    tmp.cleanup();
  });

  const json = async (args: string[], config: object = CONFIG) => {
    const r = await runCli(
      [...args, '--db', app.url, '--config', writeJson(join(tmp.dir, 'config.json'), config), '--json'],
      {
        cwd: tmp.dir,
        env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url },
      },
    );
    try {
      return { ...r, doc: JSON.parse(r.stdout) };
    } catch {
      throw new Error(`exit ${r.code}: ${r.stderr}`);
    }
  };
  const balances = async () =>
    Object.fromEntries(
      (await app.query<{ id: number; credits: number }>('SELECT id, credits FROM users ORDER BY id')).map((r) => [
        String(r.id),
        Number(r.credits),
      ]),
    );

  it('every credit the tool writes (reconcile, assign, reassign, adjust) moves the balance column in the same transaction', async () => {
    sim.store.createCheckoutPayment({ created: now() - 3 * HOUR, clientReferenceId: '1', amount: 1200 });
    sim.store.createCheckoutPayment({ created: now() - 2 * HOUR, clientReferenceId: '2', amount: 500 });
    const stranger = sim.store.createCheckoutPayment({
      created: now() - HOUR,
      amount: 300,
      email: 'stranger@example.org',
    });

    const run = await json(['reconcile', '--since', '1d']);
    expect(run.code, run.stderr).toBe(3); // the stranger's payment is in review
    expect(await balances()).toEqual({ '1': 12, '2': 12, '3': 0 });
    // A rerun writes nothing, so the balances do not move again.
    await json(['reconcile', '--since', '1d']);
    expect(await balances()).toEqual({ '1': 12, '2': 12, '3': 0 });

    const assigned = await json(['assign', stranger.session.id, '--user', '3', '--reason', 'paid with a work email']);
    expect(assigned.code, assigned.stderr).toBe(0);
    expect(await balances()).toEqual({ '1': 12, '2': 12, '3': 3 });

    const moved = await json(['assign', stranger.session.id, '--user', '1', '--reason', 'wrong account', '--reassign']);
    expect(moved.code, moved.stderr).toBe(0);
    expect(await balances()).toEqual({ '1': 15, '2': 12, '3': 0 });

    const adj = await json(['adjust', '--user', '2', '--credits', '-2', '--reason', 'correction']);
    expect(adj.code, adj.stderr).toBe(0);
    expect(adj.doc.balance).toBe(10);
    expect(await balances()).toEqual({ '1': 15, '2': 10, '3': 0 });

    const bal = await json(['balance', '2']);
    expect(bal.doc).toMatchObject({ balance: 10, balanceSource: 'users.credits' });
  });

  it('a balance row that is missing fails the run with nothing written', async () => {
    sim.store.createCheckoutPayment({ created: now() - HOUR, clientReferenceId: '1', amount: 1000 });
    await app.exec('CREATE TABLE wallets (owner_id INTEGER PRIMARY KEY, credits INTEGER NOT NULL)');
    const r = await json(['reconcile', '--since', '1d'], {
      ...CONFIG,
      balance: { table: 'wallets', column: 'credits', key: 'owner_id' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^stripe-credits: balance: 1 of 1 users have no row in wallets \(by owner_id\); nothing was written/,
    );
    expect(await app.query("SELECT * FROM credit_ledger WHERE kind = 'purchase'")).toEqual([]);
  });
});
