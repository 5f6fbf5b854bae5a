import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { PERMISSIONS, startSimulator, type SimulatorPermission } from '../../src/simulator/index.js';
import { HOUR, now, runCli, tempDir, writeJson, type CliResult, type TestUser } from '../helpers/cli.js';
import { createAppDb, engines, pgAdmin, type EngineName } from '../helpers/engines.js';

/**
 * `doctor` through the real CLI, on every engine: a good setup (everything ok, exit 0), a broken one
 * (each problem named, with the exact fix, exit 2), the fixes it suggests applied for real, and the
 * guarantee that it never writes.
 */

const ALL = Object.keys(PERMISSIONS) as SimulatorPermission[];
const KEYS = {
  all: 'rk_test_doctorAll0000',
  noEvents: 'rk_test_doctorNoEvents00',
  liveSecret: 'sk_live_doctorLive0000',
  secret: 'sk_test_doctorSecret000',
};

const USERS: TestUser[] = [
  { id: 1, email: 'ann@example.com', name: 'Ann' },
  { id: 2, email: 'ben@example.com', name: 'Ben' },
];

const LEDGER = {
  table: 'credit_transactions',
  columns: { userId: 'user_id', credits: 'amount', paymentRef: 'stripe_id', createdAt: 'created_at' },
  set: { kind: 'purchase' },
  setManual: { kind: 'manual' },
};

interface Finding {
  check: string;
  level: 'ok' | 'warn' | 'fail';
  message: string;
  fix: string | null;
}

async function world(engine: EngineName, test: TestContext) {
  const sim = await startSimulator({
    apiKeys: [KEYS.liveSecret, KEYS.secret],
    restrictedKeys: { [KEYS.all]: ALL, [KEYS.noEvents]: ALL.filter((p) => p !== 'rak_event_read') },
  });
  const tmp = tempDir('sc-doctor-');
  const app = await createAppDb(engine, tmp.dir, USERS);
  const roles: string[] = [];
  test.onTestFinished(async () => {
    await sim.close();
    await app.close();
    for (const r of roles) await (await pgAdmin()).query(`DROP ROLE IF EXISTS ${r}`);
    tmp.cleanup();
  });
  /** Postgres: a login role of its own, allowed to connect to the app's database; its --db URL. */
  const role = async (): Promise<{ name: string; url: string }> => {
    const name = `sc_r_${randomBytes(5).toString('hex')}`;
    const password = `pw-${randomBytes(6).toString('hex')}`;
    await (await pgAdmin()).query(`CREATE ROLE ${name} LOGIN PASSWORD '${password}'`);
    roles.push(name);
    const u = new URL(app.url);
    await app.exec(`GRANT CONNECT ON DATABASE ${u.pathname.slice(1)} TO ${name}`);
    u.username = name;
    u.password = password;
    return { name, url: u.toString() };
  };
  const autoId = engine === 'sqlite' ? 'INTEGER PRIMARY KEY' : 'BIGSERIAL PRIMARY KEY';
  const cli = (
    args: string[],
    opts: { key?: string | null; config?: unknown; db?: string } = {},
  ): Promise<CliResult> => {
    const cfg = writeJson(join(tmp.dir, `config-${Math.random().toString(36).slice(2)}.json`), opts.config ?? {});
    const key = opts.key === undefined ? KEYS.all : opts.key;
    return runCli([...args, '--db', opts.db ?? app.url, '--config', cfg], {
      cwd: tmp.dir,
      env: { STRIPE_API_BASE: sim.url, ...(key === null ? {} : { STRIPE_API_KEY: key }) },
    });
  };
  const doctor = async (opts: { key?: string | null; config?: unknown; db?: string } = {}) => {
    const r = await cli(['doctor', '--json'], opts);
    let doc: { ok: boolean; findings: Finding[] };
    try {
      doc = JSON.parse(r.stdout);
    } catch {
      throw new Error(`no JSON on stdout (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
    }
    const of = (check: string) => doc.findings.filter((x) => x.check === check);
    const one = (check: string) => {
      const list = of(check);
      expect(list, `findings of ${check}: ${JSON.stringify(doc.findings, null, 2)}`).toHaveLength(1);
      return list[0]!;
    };
    return { ...r, doc, of, one };
  };
  return { sim, app, engine, autoId, cli, doctor, role };
}

/** The app's credit table, with a unique index on the payment reference and only plain ids in it. */
async function goodLedger(w: Awaited<ReturnType<typeof world>>) {
  await w.app.exec(
    `CREATE TABLE credit_transactions (id ${w.autoId}, user_id INTEGER NOT NULL, amount INTEGER NOT NULL, stripe_id TEXT, kind TEXT NOT NULL, note TEXT, created_at TEXT NOT NULL)`,
  );
  await w.app.exec('CREATE UNIQUE INDEX credit_transactions_stripe_id_key ON credit_transactions (stripe_id)');
  for (const [ref, kind] of [
    ['pi_3Abc', 'purchase'],
    ['cs_test_a1B2c3', 'purchase'],
    [null, 'manual'],
  ] as const) {
    await w.app.exec(
      `INSERT INTO credit_transactions (user_id, amount, stripe_id, kind, created_at) VALUES (1, 10, ?, ?, '2026-11-01T00:00:00Z')`,
      ref,
      kind,
    );
  }
}

function expectShape(doc: unknown): void {
  expect(Object.keys(doc as object).sort()).toEqual(['findings', 'ok']);
  const findings = (doc as { findings: Finding[] }).findings;
  expect(findings.length).toBeGreaterThan(5);
  for (const x of findings) {
    expect(Object.keys(x).sort()).toEqual(['check', 'fix', 'level', 'message']);
    expect(['ok', 'warn', 'fail']).toContain(x.level);
    expect(x.message).toMatch(/\S/);
    if (x.level === 'ok') expect(x.fix).toBeNull();
    else expect(x.fix).toMatch(/\S/);
  }
}

describe.each(engines())('doctor (%s)', (engine) => {
  describe.concurrent('findings', () => {
    it('a good setup: every check ok, exit 0, and nothing written; then every writer succeeds on it', async (test) => {
      const w = await world(engine, test);
      await goodLedger(w);
      await w.app.exec('ALTER TABLE users ADD COLUMN credits INTEGER NOT NULL DEFAULT 0');
      await w.app.exec('CREATE INDEX users_email_lower_idx ON users (lower(trim(email)))');
      const migrated = await w.cli(['migrate']);
      expect(migrated.code, migrated.stderr).toBe(0);
      const config = { ledger: LEDGER, balance: { column: 'credits' }, credits: { unitAmountPerCredit: { usd: 100 } } };
      const before = await w.app.fingerprint();

      const r = await w.doctor({ config });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expectShape(r.doc);
      expect(r.doc.ok).toBe(true);
      expect(r.doc.findings.filter((x) => x.level !== 'ok')).toEqual([]);
      const checks = r.doc.findings.map((x) => x.check);
      for (const c of [
        'config',
        'database',
        'migrations',
        'users',
        'users.email',
        'ledger',
        'ledger.columns',
        'ledger.types',
        'ledger.unique',
        'ledger.references',
        'balance',
        'stripe.key',
        'stripe.checkout_sessions',
        'stripe.payment_intents',
        'stripe.charges',
        'stripe.invoice_payments',
        'stripe.events',
        'stripe.refunds',
        'stripe.disputes',
        'stripe.mode',
      ]) {
        expect(checks, c).toContain(c);
      }
      expect(r.one('database').message).toMatch(engine === 'sqlite' ? /^SQLite / : /^PostgreSQL .*schema public/);
      expect(r.one('ledger').message).toMatch(/mapped onto credit_transactions/);
      expect(r.one('ledger.unique').message).toMatch(/credit_transactions_stripe_id_key.*a second insert fails/);
      expect(r.one('ledger.references').message).toMatch(/all 2 references .*1 PaymentIntent, 1 Checkout Session/);
      expect(r.one('stripe.key').message).toBe('rk_test_****0000: a restricted key, test mode');
      expect(r.one('users.email').message).toMatch(/uses an index/);

      // The human report: one line per finding and the summary.
      const human = await w.cli(['doctor'], { config });
      expect(human.code, human.stderr).toBe(0);
      const lines = human.stdout.trimEnd().split('\n');
      expect(lines.at(-1)).toBe('everything needed is in place');
      expect(lines.filter((l) => l.startsWith('✓ '))).toHaveLength(r.doc.findings.length);
      expect(human.stdout).not.toMatch(/fix:/);

      expect(await w.app.fingerprint()).toBe(before);

      // What doctor's OK means: the tool's writers succeed on this database and config, into the app's table.
      const paid = w.sim.store.createCheckoutPayment({ created: now() - HOUR, clientReferenceId: '2', amount: 1500 });
      const pi = paid.paymentIntent!.id;
      const run = await w.cli(['reconcile', '--since', '7d', '--json'], { config });
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(JSON.parse(run.stdout).counts).toMatchObject({ credited: 1 });
      const adjusted = await w.cli(['adjust', '--user', '1', '--credits', '5', '--reason', 'goodwill'], { config });
      expect(adjusted.code, adjusted.stderr).toBe(0);
      const moved = await w.cli(['assign', pi, '--user', '1', '--reassign', '--reason', 'paid for Ann'], { config });
      expect(moved.code, moved.stderr).toBe(0);
      const written = await w.app.query<{ user_id: number; amount: number; stripe_id: string | null; kind: string }>(
        'SELECT user_id, amount, stripe_id, kind FROM credit_transactions WHERE id > 3 ORDER BY id',
      );
      expect(written.map((x) => ({ ...x, user_id: Number(x.user_id), amount: Number(x.amount) }))).toEqual([
        { user_id: 2, amount: 15, stripe_id: pi, kind: 'purchase' },
        { user_id: 1, amount: 5, stripe_id: null, kind: 'manual' },
        { user_id: 2, amount: -15, stripe_id: null, kind: 'manual' },
        { user_id: 1, amount: 15, stripe_id: null, kind: 'manual' },
      ]);
      expect(await w.app.query('SELECT id, credits FROM users ORDER BY id')).toEqual([
        { id: 1, credits: 20 },
        { id: 2, credits: 0 },
      ]);
    });

    it('a broken setup: each problem named with its exact fix, exit 2, nothing written; the suggested SQL works', async (test) => {
      const w = await world(engine, test);
      await w.app.exec('ALTER TABLE users ADD COLUMN credits TEXT');
      await w.app.exec(
        `CREATE TABLE credit_transactions (id ${w.autoId}, user_id INTEGER NOT NULL, amount INTEGER NOT NULL, stripe_id TEXT, kind TEXT NOT NULL, source TEXT NOT NULL, created_at TEXT)`,
      );
      const refs = [
        'pi_3Abc',
        'cs_test_a1B2c3',
        'ch_3Charge1',
        'ch_3Charge2',
        'evt_1Event',
        'stripe:pi_3Wrapped',
        'pi_3Refunded-refund',
        'pi_3Abc',
      ];
      for (const ref of refs) {
        await w.app.exec(
          `INSERT INTO credit_transactions (user_id, amount, stripe_id, kind, source) VALUES (1, 10, ?, 'purchase', 'webhook')`,
          ref,
        );
      }
      // createdAt names a column the table does not have; "source" is NOT NULL and not in set.
      const config = {
        ledger: { ...LEDGER, columns: { ...LEDGER.columns, createdAt: 'created' } },
        balance: { column: 'credits' },
      };
      const before = await w.app.fingerprint();

      const r = await w.doctor({ config, key: KEYS.noEvents });
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expectShape(r.doc);
      expect(r.doc.ok).toBe(false);

      const columns = r.of('ledger.columns');
      expect(columns.map((x) => x.level)).toEqual(['fail', 'fail']);
      expect(columns[0]!.message).toBe(
        'credit_transactions has no column "created" (ledger.columns.createdAt); it has: id, user_id, amount, stripe_id, kind, source, created_at',
      );
      expect(columns[0]!.fix).toBe('set ledger.columns.createdAt to the column of credit_transactions that holds it');
      expect(columns[1]!.message).toMatch(
        /^"source" \(text\) is NOT NULL without a default, and neither mapped nor in ledger.set: every purchase the tool writes would fail to insert$/i,
      );
      expect(columns[1]!.fix).toMatch(/^add "source": VALUE to ledger.set \(and to ledger.setManual\)/);

      const unique = r.one('ledger.unique');
      expect(unique.level).toBe('warn');
      expect(unique.message).toMatch(/^no unique index on credit_transactions \(stripe_id\)/);
      expect(unique.fix).toMatch(
        /^CREATE UNIQUE INDEX credit_transactions_stripe_id_key ON credit_transactions \(stripe_id\); with refKind payment_intent, the app's webhook must write PaymentIntent ids \(pi_…\) too/,
      );
      expect(unique.fix).toMatch(/first resolve the 1 reference that appears more than once \(pi_3Abc\)/);

      const references = r.one('ledger.references');
      expect(references.level).toBe('warn');
      expect(references.message).toBe(
        '5 of 8 references in credit_transactions.stripe_id are not a PaymentIntent or Checkout Session id the tool reads: ' +
          '2 charge ids (ch_3Charge1, ch_3Charge2), 2 prefixed or suffixed ids (pi_3Refunded-refund, stripe:pi_3Wrapped), 1 event id (evt_1Event)',
      );
      expect(references.fix).toMatch(/would look uncredited.*baseline/);

      const balance = r.of('balance');
      expect(balance.map((x) => x.level)).toEqual(['fail', 'warn']);
      expect(balance[0]!.message).toMatch(/^balance.column "credits" is text: a balance must be an integer column$/i);
      expect(balance[1]!.message).toBe('2 rows of users hold NULL in "credits": NULL plus a credit is still NULL');

      const events = r.one('stripe.events');
      expect(events.level).toBe('fail');
      expect(events.message).toBe(
        'list Events: refused (HTTP 403, Stripe names rak_event_read): the key lacks "Events: Read", and incremental runs (no --since) read what changed since the last run',
      );
      expect(events.fix).toBe(
        'give the key "Events: Read" (Dashboard → Developers → API keys → edit rk_test_****ts00)',
      );
      for (const c of [
        'stripe.checkout_sessions',
        'stripe.payment_intents',
        'stripe.charges',
        'stripe.invoice_payments',
      ])
        expect(r.one(c).level, c).toBe('ok');

      const email = r.one('users.email');
      expect(email.level).toBe('warn');
      expect(email.fix).toBe('CREATE INDEX users_email_lower_idx ON users (lower(trim(email)))');
      expect(r.one('migrations').level).toBe('warn');

      // The human report says the same, with the fixes indented, and counts the problems.
      const human = await w.cli(['doctor'], { config, key: KEYS.noEvents });
      expect(human.code).toBe(2);
      expect(human.stdout).toMatch(/^✗ stripe\.events +list Events: refused/m);
      expect(human.stdout).toMatch(
        /^ +fix: CREATE UNIQUE INDEX credit_transactions_stripe_id_key ON credit_transactions \(stripe_id\);/m,
      );
      expect(human.stdout.trimEnd().split('\n').at(-1)).toBe(
        `${r.doc.findings.filter((x) => x.level === 'fail').length} problems to fix, ${r.doc.findings.filter((x) => x.level === 'warn').length} warnings`,
      );

      expect(await w.app.fingerprint()).toBe(before);

      // The suggested SQL, run as given, makes those checks pass.
      await w.app.exec(
        "DELETE FROM credit_transactions WHERE stripe_id = 'pi_3Abc' AND id > (SELECT min(id) FROM credit_transactions WHERE stripe_id = 'pi_3Abc')",
      );
      await w.app.exec(unique.fix!.split(';')[0]!);
      await w.app.exec(email.fix!);
      const fixed = await w.doctor({ config, key: KEYS.noEvents });
      expect(fixed.one('ledger.unique').level).toBe('ok');
      expect(fixed.one('users.email').level).toBe('ok');
    });

    it('a NOT NULL payment reference: a warning, since adjustments (no reference) would fail; the fix makes them work', async (test) => {
      const w = await world(engine, test);
      await w.app.exec(
        `CREATE TABLE credit_transactions (id ${w.autoId}, user_id INTEGER NOT NULL, amount INTEGER NOT NULL, stripe_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, created_at TEXT)`,
      );
      await w.app.exec(
        `INSERT INTO credit_transactions (user_id, amount, stripe_id, kind) VALUES (1, 10, 'pi_3Abc', 'purchase')`,
      );
      const config = { ledger: LEDGER };
      const r = await w.doctor({ config });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const columns = r.one('ledger.columns');
      expect(columns.level).toBe('warn');
      expect(columns.message).toBe(
        'paymentRef "stripe_id" is NOT NULL: purchases insert fine, but a manual entry (adjust, assign --reassign) has no payment reference and writes NULL there, so adjustments and reassignments would fail to insert',
      );
      expect(columns.fix).toBe(
        engine === 'postgres'
          ? 'make "stripe_id" nullable (ALTER TABLE credit_transactions ALTER COLUMN stripe_id DROP NOT NULL), or make adjustments and reassignments in the app, not with the tool'
          : 'make "stripe_id" nullable (SQLite cannot drop a NOT NULL in place: rebuild the table without it), or make adjustments and reassignments in the app, not with the tool',
      );
      // It is what happens.
      const adjust = ['adjust', '--user', '1', '--credits', '5', '--reason', 'goodwill'];
      const failed = await w.cli(adjust, { config });
      expect(failed.code).not.toBe(0);
      expect(failed.stderr).toMatch(/NOT NULL constraint failed|null value in column "stripe_id"/);
      if (engine === 'postgres') {
        await w.app.exec(/^make "stripe_id" nullable \((.*)\), or/.exec(columns.fix!)![1]!);
        expect((await w.doctor({ config })).one('ledger.columns').level).toBe('ok');
        const ok = await w.cli(adjust, { config });
        expect(ok.code, ok.stderr).toBe(0);
      }
    });

    it("set/setManual constants checked against their column's type: what the engine refuses is named with its error", async (test) => {
      const w = await world(engine, test);
      const adjust = (config: unknown) =>
        w.cli(['adjust', '--user', '1', '--credits', '5', '--reason', 'goodwill'], { config });
      if (engine === 'postgres') {
        await w.app.exec(`CREATE TYPE credit_source AS ENUM ('stripe', 'admin')`);
        await w.app.exec(
          `CREATE TABLE credit_transactions (id ${w.autoId}, user_id INTEGER NOT NULL, amount INTEGER NOT NULL, stripe_id TEXT, is_purchase SMALLINT NOT NULL, source credit_source NOT NULL, granted_at TIMESTAMPTZ, label VARCHAR(8), external_id UUID, created_at TEXT)`,
        );
        const ledger = {
          ...LEDGER,
          set: {
            is_purchase: true,
            source: 'stripe',
            granted_at: 5,
            external_id: '0b6e1c1e-8f0e-4a53-9a43-5b2c3f6d7e81',
          },
          setManual: { is_purchase: 0, source: 'support', label: 'adjustment', external_id: 'none' },
        };
        const r = await w.doctor({ config: { ledger } });
        expect(r.code, r.stdout + r.stderr).toBe(2);
        expect(r.of('ledger.types').map((x) => [x.level, x.message])).toEqual([
          [
            'fail',
            'ledger.set.is_purchase is true, but "is_purchase" is smallint: Postgres refuses it (invalid input syntax for type smallint: "true"), so every purchase the tool writes would fail to insert',
          ],
          [
            'fail',
            'ledger.set.granted_at is 5, but "granted_at" is timestamp with time zone: Postgres refuses it (invalid input syntax for type timestamp with time zone: "5"), so every purchase the tool writes would fail to insert',
          ],
          [
            'warn',
            'ledger.setManual.source is "support", but "source" is credit_source: Postgres refuses it (invalid input value for enum credit_source: "support"), so manual entries (adjust, assign --reassign) would fail to insert',
          ],
          [
            'warn',
            'ledger.setManual.label is "adjustment", but "label" is character varying(8): Postgres refuses it (value too long for type character varying(8)), so manual entries (adjust, assign --reassign) would fail to insert',
          ],
          [
            'warn',
            'ledger.setManual.external_id is "none", but "external_id" is uuid: Postgres refuses it (invalid input syntax for type uuid: "none"), so manual entries (adjust, assign --reassign) would fail to insert',
          ],
        ]);
        expect(r.of('ledger.types')[0]!.fix).toBe(
          "set ledger.set.is_purchase to a value of the column's type (1 for true): the value the app writes there",
        );
        // The writes fail as doctor says.
        expect((await adjust({ ledger })).stderr).toMatch(/invalid input value for enum credit_source: "support"/);
        const fixed = {
          ...ledger,
          set: { is_purchase: 1, source: 'stripe' },
          setManual: { is_purchase: 0, source: 'admin', label: 'adjusted' },
        };
        const ok = await w.doctor({ config: { ledger: fixed } });
        expect(ok.code, ok.stdout).toBe(0);
        expect(ok.one('ledger.types').level).toBe('ok');
        const adjusted = await adjust({ ledger: fixed });
        expect(adjusted.code, adjusted.stderr).toBe(0);
      } else {
        await w.app.exec(
          'CREATE TABLE credit_transactions (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, amount INTEGER NOT NULL, stripe_id TEXT, is_purchase INTEGER NOT NULL, label TEXT, created_at TEXT) STRICT',
        );
        const ledger = { ...LEDGER, set: { is_purchase: true }, setManual: { is_purchase: 'no', label: 3 } };
        const r = await w.doctor({ config: { ledger } });
        expect(r.code, r.stdout + r.stderr).toBe(0);
        expect(r.of('ledger.types').map((x) => [x.level, x.message])).toEqual([
          [
            'warn',
            'ledger.setManual.is_purchase is "no", but "is_purchase" is INTEGER: SQLite (a STRICT table) refuses it (cannot store TEXT value in INTEGER column credit_transactions.is_purchase), so manual entries (adjust, assign --reassign) would fail to insert',
          ],
          ['warn', 'ledger.setManual.label is 3, but "label" is TEXT: SQLite stores it as the text \'3.0\''],
        ]);
        expect((await adjust({ ledger })).stderr).toMatch(
          /cannot store TEXT value in INTEGER column credit_transactions\.is_purchase/,
        );
        // A boolean is written as 1 or 0, which an INTEGER column takes; the same constants in a table that is not STRICT are stored, as text.
        const fixed = { ...ledger, setManual: { is_purchase: false, label: 'adjusted' } };
        const ok = await w.doctor({ config: { ledger: fixed } });
        expect(ok.one('ledger.types').level).toBe('ok');
        expect((await adjust({ ledger: fixed })).code).toBe(0);
        await w.app.exec(
          'CREATE TABLE loose (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, amount INTEGER NOT NULL, stripe_id TEXT, is_purchase INTEGER NOT NULL, label TEXT, created_at TEXT)',
        );
        const loose = await w.doctor({
          config: { ledger: { ...ledger, table: 'loose', set: { is_purchase: true, label: true } } },
        });
        expect(loose.of('ledger.types').map((x) => [x.level, x.message])).toEqual([
          [
            'warn',
            'ledger.set.label is true, but "label" is TEXT: SQLite has no booleans and stores it as the text \'1.0\'',
          ],
          [
            'warn',
            'ledger.setManual.is_purchase is "no", but "is_purchase" is INTEGER: SQLite stores it as text, where the app reads a number',
          ],
          ['warn', 'ledger.setManual.label is 3, but "label" is TEXT: SQLite stores it as the text \'3.0\''],
        ]);
      }
    });

    it('mixed-case names (Prisma): the suggested SQL quotes them and runs as given', async (test) => {
      const w = await world(engine, test);
      await w.app.exec(`CREATE TABLE "User" (id INTEGER PRIMARY KEY, "Email" TEXT, name TEXT)`);
      await w.app.exec(`INSERT INTO "User" (id, "Email") VALUES (1, 'ann@example.com')`);
      await w.app.exec(
        `CREATE TABLE "CreditTransaction" (id ${w.autoId}, "userId" INTEGER NOT NULL, amount INTEGER NOT NULL, "stripeId" TEXT, "createdAt" TEXT)`,
      );
      await w.app.exec(`INSERT INTO "CreditTransaction" ("userId", amount, "stripeId") VALUES (1, 10, 'pi_3Abc')`);
      await w.app.exec(`CREATE TABLE "Wallet" ("userId" INTEGER NOT NULL, balance INTEGER)`);
      await w.app.exec(`INSERT INTO "Wallet" ("userId", balance) VALUES (1, NULL)`);
      const config = {
        users: { table: 'User', email: 'Email' },
        ledger: {
          table: 'CreditTransaction',
          columns: { userId: 'userId', credits: 'amount', paymentRef: 'stripeId', createdAt: 'createdAt' },
        },
        balance: { table: 'Wallet', column: 'balance', key: 'userId' },
      };
      const r = await w.doctor({ config });
      const fixes = [
        r.one('users.email').fix!,
        r.one('ledger.unique').fix!.split(';')[0]!,
        ...r.of('balance').map((x) => x.fix!),
      ];
      expect(fixes).toEqual(
        engine === 'postgres'
          ? [
              'CREATE INDEX "User_Email_lower_idx" ON "User" (lower(trim("Email")))',
              'CREATE UNIQUE INDEX "CreditTransaction_stripeId_key" ON "CreditTransaction" ("stripeId")',
              'UPDATE "Wallet" SET balance = 0 WHERE balance IS NULL',
              'CREATE UNIQUE INDEX "Wallet_userId_key" ON "Wallet" ("userId")',
            ]
          : [
              'CREATE INDEX User_Email_lower_idx ON User (lower(trim(Email)))',
              'CREATE UNIQUE INDEX CreditTransaction_stripeId_key ON CreditTransaction (stripeId)',
              'UPDATE Wallet SET balance = 0 WHERE balance IS NULL',
              'CREATE UNIQUE INDEX Wallet_userId_key ON Wallet (userId)',
            ],
      );
      for (const sql of fixes) await w.app.exec(sql);
      const fixed = await w.doctor({ config });
      expect(fixed.code, fixed.stdout).toBe(0);
      expect(fixed.one('users.email').level).toBe('ok');
      expect(fixed.one('ledger.unique').level).toBe('ok');
      expect(fixed.of('balance').map((x) => x.level)).toEqual(['ok']);
      if (engine === 'sqlite') {
        // Names are case-insensitive on SQLite, and doctor matches them so; a schema prefixes the index name, not the table.
        const lower = {
          ledger: {
            schema: 'main',
            table: 'credittransaction',
            columns: { userId: 'userid', credits: 'AMOUNT', paymentRef: 'stripeid', createdAt: null },
          },
        };
        await w.app.exec('DROP INDEX CreditTransaction_stripeId_key');
        const main = await w.doctor({ config: lower });
        expect(main.one('ledger').level).toBe('ok');
        const unique = main.one('ledger.unique').fix!.split(';')[0]!;
        expect(unique).toBe('CREATE UNIQUE INDEX main.CreditTransaction_stripeId_key ON CreditTransaction (stripeId)');
        await w.app.exec(unique);
        expect((await w.doctor({ config: lower })).one('ledger.unique').level).toBe('ok');
      }
    });

    it('a balance without a mapped ledger: a warning that credits the app makes itself are invisible to the tool', async (test) => {
      const w = await world(engine, test);
      await w.app.exec('ALTER TABLE users ADD COLUMN credits INTEGER NOT NULL DEFAULT 0');
      const r = await w.doctor({ config: { balance: { column: 'credits' } } });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const v = r.one('balance.visibility');
      expect(v.level).toBe('warn');
      expect(v.message).toBe(
        'the tool cannot see credits the app makes itself by moving users.credits: only its own record (credit_ledger) and the baseline tell it a payment is credited',
      );
      expect(v.fix).toMatch(
        /^from the baseline line on, the app's webhook must credit through the library \(handleWebhook\/fulfill\) or not at all, else reconcile credits each new payment a second time/,
      );
      expect(r.one('balance').level).toBe('ok');
      // With the ledger mapped too, the tool sees the app's credits: no such warning.
      await goodLedger(w);
      expect(
        (await w.doctor({ config: { ledger: LEDGER, balance: { column: 'credits' } } })).of('balance.visibility'),
      ).toEqual([]);
    });

    it('no key: a warning, not a crash; a setup without a mapped ledger is fine', async (test) => {
      const w = await world(engine, test);
      const r = await w.doctor({ key: null });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.doc.ok).toBe(true);
      const key = r.one('stripe.key');
      expect(key.level).toBe('warn');
      expect(key.message).toMatch(/^no Stripe key \(STRIPE_API_KEY or STRIPE_API_KEY_FILE\)/);
      expect(r.one('ledger').message).toMatch(/^the tool's own ledger \(credit_ledger\)/);
      expect(r.of('stripe.events')).toEqual([]);
      expect(r.stderr).toBe('');
    });

    it('a live secret key: a warning; with a ledger of test payments: a failure', async (test) => {
      const w = await world(engine, test);
      await goodLedger(w);
      const r = await w.doctor({ config: { ledger: LEDGER }, key: KEYS.liveSecret });
      expect(r.code, r.stdout + r.stderr).toBe(2);
      const key = r.one('stripe.key');
      expect(key.level).toBe('warn');
      expect(key.message).toMatch(/^sk_live_\*\*\*\*0000: a secret key, live mode/);
      expect(key.fix).toMatch(/restricted read-only key is enough and safer/);
      const mode = r.one('stripe.mode');
      expect(mode.level).toBe('fail');
      expect(mode.message).toMatch(/live-mode key, but the ledger holds test-mode payments/);
      // The key itself is never printed whole.
      expect(r.stdout).not.toContain(KEYS.liveSecret);
    });

    it('a rejected key: one failure, the other permissions not asked', async (test) => {
      const w = await world(engine, test);
      const r = await w.doctor({ key: 'rk_test_notKnownHere1234' });
      expect(r.code).toBe(2);
      const key = r.of('stripe.key');
      expect(key.map((x) => x.level)).toEqual(['ok', 'fail']);
      expect(key[1]!.message).toBe('Stripe rejected the API key rk_test_****1234 (HTTP 401)');
      expect(r.of('stripe.payment_intents')).toEqual([]);
    });
  });

  if (engine === 'postgres')
    it('a role of its own: INSERT on the mapped table is not enough for a serial id, doctor names the sequence grant', async (test) => {
      const w = await world(engine, test);
      await w.app.exec(
        `CREATE TABLE "CreditTransaction" (id SERIAL PRIMARY KEY, "userId" INTEGER NOT NULL, amount INTEGER NOT NULL, "stripeId" TEXT UNIQUE, "createdAt" TEXT)`,
      );
      const r = await w.role();
      await w.app.exec(
        `GRANT USAGE, CREATE ON SCHEMA public TO ${r.name}; GRANT SELECT ON users TO ${r.name}; GRANT SELECT ON "CreditTransaction" TO ${r.name}`,
      );
      const config = {
        ledger: {
          table: 'CreditTransaction',
          columns: { userId: 'userId', credits: 'amount', paymentRef: 'stripeId', createdAt: 'createdAt' },
        },
      };
      const migrated = await w.cli(['migrate'], { db: r.url });
      expect(migrated.code, migrated.stderr).toBe(0);

      const d = await w.doctor({ config, db: r.url });
      expect(d.code, d.stdout + d.stderr).toBe(2);
      const ledger = d.of('ledger').filter((x) => x.level === 'fail');
      expect(ledger.map((x) => x.message)).toEqual([
        `the database user ${r.name} lacks INSERT on public.CreditTransaction: the tool reads the ledger and inserts the credits it writes`,
        `the database user ${r.name} lacks USAGE on the sequence public.CreditTransaction_id_seq that numbers "id" of public.CreditTransaction: every insert the tool makes would fail (permission denied for sequence CreditTransaction_id_seq)`,
      ]);
      expect(ledger.map((x) => x.fix)).toEqual([
        `GRANT INSERT ON public."CreditTransaction" TO ${r.name}`,
        `GRANT USAGE ON SEQUENCE public."CreditTransaction_id_seq" TO ${r.name}`,
      ]);

      // INSERT alone: the insert fails on the sequence, as doctor said.
      const adjust = ['adjust', '--user', '1', '--credits', '5', '--reason', 'goodwill'];
      await w.app.exec(ledger[0]!.fix!);
      const denied = await w.cli(adjust, { config, db: r.url });
      expect(denied.code).not.toBe(0);
      expect(denied.stderr).toMatch(/permission denied for sequence CreditTransaction_id_seq/);
      await w.app.exec(ledger[1]!.fix!);
      const ok = await w.doctor({ config, db: r.url });
      expect(ok.code, ok.stdout).toBe(0);
      expect(ok.of('ledger').map((x) => x.level)).toEqual(['ok']);
      const adjusted = await w.cli(adjust, { config, db: r.url });
      expect(adjusted.code, adjusted.stderr).toBe(0);
      expect(await w.app.query('SELECT "userId", amount, "stripeId" FROM "CreditTransaction"')).toEqual([
        { userId: 1, amount: 5, stripeId: null },
      ]);
    });
});

describe('doctor (engine-independent)', () => {
  it('an unreachable database server: the report still comes, the key is still checked, exit 1', async (test) => {
    const sim = await startSimulator({ restrictedKeys: { [KEYS.all]: ALL } });
    const tmp = tempDir('sc-doctor-');
    test.onTestFinished(async () => {
      await sim.close();
      tmp.cleanup();
    });
    const r = await runCli(['doctor', '--json', '--db', 'postgres://nobody:pw@127.0.0.1:1/app'], {
      cwd: tmp.dir,
      env: { STRIPE_API_KEY: KEYS.all, STRIPE_API_BASE: sim.url },
    });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const doc = JSON.parse(r.stdout) as { ok: boolean; findings: Finding[] };
    expect(doc.ok).toBe(false);
    expect(doc.findings.find((x) => x.check === 'database')).toMatchObject({
      level: 'fail',
      message: expect.stringMatching(/cannot reach the database server at 127\.0\.0\.1:1/),
    });
    expect(doc.findings.find((x) => x.check === 'stripe.events')?.level).toBe('ok');
  });

  it('the refund and dispute reads are probed unless reversals ignores that kind', async (test) => {
    const noReversals = 'rk_test_doctorNoRefunds0';
    const sim = await startSimulator({
      restrictedKeys: { [noReversals]: ALL.filter((p) => p !== 'rak_refund_read' && p !== 'rak_dispute_read') },
    });
    const tmp = tempDir('sc-doctor-');
    test.onTestFinished(async () => {
      await sim.close();
      tmp.cleanup();
    });
    const doctor = async (reversals: Record<string, string>) => {
      const config = writeJson(join(tmp.dir, `config-${Object.values(reversals).join('-')}.json`), { reversals });
      const r = await runCli(['doctor', '--json', '--db', join(tmp.dir, 'app.db'), '--config', config], {
        cwd: tmp.dir,
        env: { STRIPE_API_KEY: noReversals, STRIPE_API_BASE: sim.url },
      });
      return (JSON.parse(r.stdout) as { findings: Finding[] }).findings.filter((x) =>
        /^stripe\.(refunds|disputes)$/.test(x.check),
      );
    };
    expect(await doctor({})).toEqual([
      {
        check: 'stripe.refunds',
        level: 'fail',
        message:
          'list Refunds: refused (HTTP 403, Stripe names rak_refund_read): the key lacks "Refunds: Read", and runs read the refunds of credited payments to take their credits back (reversals.refunds is not "ignore")',
        fix: 'give the key "Refunds: Read" (Dashboard → Developers → API keys → edit rk_test_****nds0)',
      },
      expect.objectContaining({
        check: 'stripe.disputes',
        level: 'fail',
        message: expect.stringMatching(/lacks "Disputes: Read"/),
      }),
    ]);
    expect((await doctor({ refunds: 'debit', disputes: 'ignore' })).map((x) => [x.check, x.level])).toEqual([
      ['stripe.refunds', 'fail'],
    ]);
    expect(await doctor({ refunds: 'ignore', disputes: 'ignore' })).toEqual([]);
    expect(sim.requests.filter((q) => /^\/v1\/(refunds|disputes)$/.test(q.path))).toHaveLength(3);
  });

  it('a database file that does not exist: a failure naming it, exit 2, no file created', async (test) => {
    const tmp = tempDir('sc-doctor-');
    test.onTestFinished(() => tmp.cleanup());
    const r = await runCli(['doctor', '--db', join(tmp.dir, 'missing.db')], { cwd: tmp.dir });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout).toMatch(/^✗ database +database not found: .*missing\.db$/m);
    expect(r.stdout).toMatch(/^! stripe\.key +no Stripe key/m);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('1 problem to fix, 1 warning');
    expect(existsSync(join(tmp.dir, 'missing.db'))).toBe(false);
  });
});
