import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import { DAY, now, runCli, tempDir, writeJson, type CliResult, type TestUser } from '../helpers/cli.js';
import { createAppDb, engines, type AppDbOptions, type EngineName } from '../helpers/engines.js';

/**
 * How the app's users table is read and named, through the real CLI on every engine: ids read back
 * exactly (beyond 2^53, with spaces, with a NUL byte), a schema-qualified users table, and a ledger
 * or balance mapped onto a table where the tool would write what it must not.
 */

const KEY = 'sk_test_usersTable0001';

interface Item {
  paymentKey: string;
  status: string;
  reason: string | null;
  userId: string | null;
  credits: number | null;
  matchedBy: string | null;
}

interface Finding {
  check: string;
  level: 'ok' | 'warn' | 'fail';
  message: string;
}

async function world(engine: EngineName, test: TestContext, users: TestUser[], opts: AppDbOptions = {}) {
  const sim = await startSimulator({ apiKeys: [KEY] });
  const tmp = tempDir('sc-users-');
  const app = await createAppDb(engine, tmp.dir, users, opts);
  test.onTestFinished(async () => {
    await sim.close();
    await app.close();
    tmp.cleanup();
  });
  const since = now() - 3 * DAY;
  const cli = (args: string[], config: unknown = {}): Promise<CliResult> => {
    const cfg = writeJson(join(tmp.dir, `config-${Math.random().toString(36).slice(2)}.json`), config);
    return runCli([...args, '--db', app.url, '--config', cfg], {
      cwd: tmp.dir,
      env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url },
    });
  };
  const json = async (args: string[], config: unknown = {}) => {
    const r = await cli([...args, '--json'], config);
    try {
      return { ...r, doc: JSON.parse(r.stdout) };
    } catch {
      throw new Error(`no JSON on stdout (exit ${r.code}): ${r.stderr}`);
    }
  };
  const reconcile = async (config: unknown = {}, extra: string[] = []) => {
    const r = await json(['reconcile', '--since', String(since), ...extra], config);
    const items = r.doc.items as Item[];
    return { ...r, item: (key: string) => items.find((i) => i.paymentKey === key) };
  };
  const doctor = async (config: unknown = {}) => {
    const r = await json(['doctor'], config);
    return { ...r, findings: r.doc.findings as Finding[] };
  };
  const ledger = () =>
    app.query<{ payment_key: string; user_id: string; credits: number }>(
      "SELECT payment_key, user_id, credits FROM credit_ledger WHERE kind = 'purchase' ORDER BY id",
    );
  const pay = (p: { ref?: string; metadata?: Record<string, string>; credits?: number }) =>
    sim.store.createCheckoutPayment({
      created: now() - DAY,
      clientReferenceId: p.ref,
      metadata: { credits: String(p.credits ?? 5), ...p.metadata },
      amount: 500,
    }).paymentIntent!.id;
  return { sim, tmp, app, cli, json, reconcile, doctor, ledger, pay };
}

describe.each(engines())('the users table as the tool reads it (%s)', (engine) => {
  it('an INTEGER id beyond 2^53 is read exactly: a neighbouring id finds nobody, the real one is credited, looked up and assigned', async (t) => {
    const big = '9007199254740993';
    const w = await world(engine, t, [{ id: big, email: 'big@example.com' }], {
      idType: engine === 'sqlite' ? 'INTEGER' : 'BIGINT',
    });
    const near = w.pay({ ref: '9007199254740992' });
    const exact = w.pay({ ref: big });
    const r = await w.reconcile();
    expect(r.code, r.stderr).toBe(3);
    expect(r.item(near)).toMatchObject({ status: 'needs_review', reason: 'no_user', userId: null });
    expect(r.item(exact)).toMatchObject({ status: 'credited', userId: big, credits: 5 });
    expect(await w.ledger()).toEqual([{ payment_key: exact, user_id: big, credits: 5 }]);

    const assigned = await w.json(['assign', near, '--user', big, '--reason', 'support ticket 7']);
    expect(assigned.code, assigned.stderr).toBe(0);
    expect((await w.ledger()).map((e) => e.user_id)).toEqual([big, big]);
    const wrong = await w.cli(['assign', near, '--user', '9007199254740992', '--reason', 'nobody']);
    expect(wrong.code).toBe(2); // no such user: never the neighbouring id
    expect(wrong.stderr).toContain('9007199254740992');
    expect(await w.ledger()).toHaveLength(2);
    const bal = await w.json(['balance', big]);
    expect(bal.code, bal.stderr).toBe(0);
    expect(bal.doc).toMatchObject({ userId: big, balance: 10 });
    const none = await w.cli(['balance', '9007199254740992']);
    expect(none.code).toBe(2);
    const look = await w.json(['lookup', exact]);
    expect(look.code, look.stderr).toBe(0);
    expect(JSON.stringify(look.doc)).toContain(`"${big}"`);
    expect(JSON.stringify(look.doc)).not.toContain('9007199254740992');
  });

  it('an id or email with a NUL byte matches nobody: that payment needs review, the others are credited', async (t) => {
    const w = await world(
      engine,
      t,
      [
        { id: 'u1', email: 'ann@example.com' },
        { id: 'u2', email: 'ben@example.com' },
      ],
      { idType: 'TEXT' },
    );
    const good = w.pay({ ref: 'u1' });
    const badRef = w.pay({ ref: 'u2\u0000' });
    const badEmail = w.pay({ metadata: { user_email: 'ben@example.com\u0000' } });
    const byEmail = w.pay({ metadata: { user_email: 'ben@example.com' } });
    const r = await w.reconcile();
    expect(r.code, r.stderr).toBe(3);
    expect(r.item(good)).toMatchObject({ status: 'credited', userId: 'u1' });
    expect(r.item(byEmail)).toMatchObject({ status: 'credited', userId: 'u2', matchedBy: 'email' });
    expect(r.item(badRef)).toMatchObject({ status: 'needs_review', reason: 'no_user' });
    expect(r.item(badEmail)).toMatchObject({ status: 'needs_review', reason: 'no_user' });
    expect((await w.ledger()).map((e) => e.payment_key).sort()).toEqual([good, byEmail].sort());
    const review = await w.json(['review']);
    expect(review.code, review.stderr).toBe(0);
    expect(JSON.stringify(review.doc)).toContain(badRef);
    for (const key of [badRef, badEmail]) {
      const look = await w.json(['lookup', key]);
      expect(look.code, look.stderr).toBe(0);
    }
  });

  it('ids are exact text on a TEXT id column: " 42" is its own user, never "42"', async (t) => {
    const w = await world(
      engine,
      t,
      [
        { id: '42', email: 'plain@example.com' },
        { id: ' 42', email: 'spaced@example.com' },
      ],
      { idType: 'TEXT' },
    );
    const spaced = w.pay({ ref: ' 42' });
    const plain = w.pay({ ref: '42' });
    const trailing = w.pay({ metadata: { user_id: '42 ' } });
    const r = await w.reconcile();
    expect(r.code, r.stderr).toBe(3);
    expect(r.item(spaced)).toMatchObject({ status: 'credited', userId: ' 42', matchedBy: 'client_reference_id' });
    expect(r.item(plain)).toMatchObject({ status: 'credited', userId: '42', matchedBy: 'client_reference_id' });
    expect(r.item(trailing)).toMatchObject({ status: 'needs_review', reason: 'no_user' });
    const ledger = Object.fromEntries((await w.ledger()).map((e) => [e.payment_key, e.user_id]));
    expect(ledger).toEqual({ [spaced]: ' 42', [plain]: '42' });
    const bal = await w.json(['balance', ' 42']);
    expect(bal.doc).toMatchObject({ userId: ' 42', balance: 5 });
    const look = await w.json(['lookup', ' 42']);
    expect(JSON.stringify(look.doc)).toContain(spaced);
    expect(JSON.stringify(look.doc)).not.toContain(plain);
  });

  it('on an integer id column, spaces around a number are dropped (it can hold no other user), nothing else', async (t) => {
    const w = await world(engine, t, [{ id: 42, email: 'plain@example.com' }]);
    const spaced = w.pay({ ref: ' 42 ' });
    const zero = w.pay({ ref: '042' });
    const tab = w.pay({ metadata: { user_id: '42\t' } });
    const r = await w.reconcile();
    expect(r.code, r.stderr).toBe(3);
    expect(r.item(spaced)).toMatchObject({ status: 'credited', userId: '42' });
    expect(r.item(zero)).toMatchObject({ status: 'needs_review', reason: 'no_user' });
    expect(r.item(tab)).toMatchObject({ status: 'needs_review', reason: 'no_user' });
  });

  it('a schema-qualified users table (main.users on SQLite, public.users on Postgres) works in doctor and reconcile', async (t) => {
    const w = await world(engine, t, [{ id: 1, email: 'ann@example.com' }]);
    const config = { users: { table: engine === 'sqlite' ? 'main.users' : 'public.users' } };
    const p = w.pay({ ref: '1' });
    const doc = await w.doctor(config);
    expect(
      doc.findings.filter((f) => f.level === 'fail'),
      doc.stderr,
    ).toEqual([]);
    expect(doc.findings.find((f) => f.check === 'users')).toMatchObject({ level: 'ok' });
    expect(doc.code).toBe(0);
    const r = await w.reconcile(config);
    expect(r.code, r.stderr).toBe(0);
    expect(r.item(p)).toMatchObject({ status: 'credited', userId: '1' });
    const bal = await w.json(['balance', '1'], config);
    expect(bal.doc).toMatchObject({ userId: '1', balance: 5 });
    const other = await w.cli(['reconcile', '--since', String(now() - DAY), '--dry-run'], {
      users: { table: 'elsewhere.users' },
    });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('users table "elsewhere.users" not found');
    expect(other.stderr).not.toMatch(/\n\s+at /);
    const ledger = await w.doctor({
      ledger: { table: 'elsewhere.tx', columns: { userId: 'u', credits: 'c', paymentRef: 'r' } },
    });
    expect(ledger.code, ledger.stderr).toBe(2);
    expect(ledger.findings.find((f) => f.check === 'ledger')).toMatchObject({
      level: 'fail',
      message: expect.stringContaining('there is no table elsewhere.tx'),
    });
  });

  it('a ledger mapped onto the users table, or a balance onto the ledger table, is refused (exit 2; doctor fails it)', async (t) => {
    const w = await world(engine, t, [{ id: 1, email: 'ann@example.com' }]);
    await w.app.exec('ALTER TABLE users ADD COLUMN credits INTEGER');
    await w.app.exec('ALTER TABLE users ADD COLUMN stripe_ref TEXT');
    const autoId = engine === 'sqlite' ? 'INTEGER PRIMARY KEY' : 'BIGSERIAL PRIMARY KEY';
    await w.app.exec(
      `CREATE TABLE credit_transactions (id ${autoId}, user_id TEXT NOT NULL, amount INTEGER NOT NULL, stripe_id TEXT UNIQUE, created_at TEXT)`,
    );
    const p = w.pay({ ref: '1' });
    const txColumns = { userId: 'user_id', credits: 'amount', paymentRef: 'stripe_id', createdAt: 'created_at' };
    // Named as the engine would find it, not as users.table spells it.
    const onUsers = {
      ledger: {
        table: engine === 'sqlite' ? 'main.Users' : 'public.users',
        columns: { userId: 'id', credits: 'credits', paymentRef: 'stripe_ref' },
      },
    };
    const onLedger = {
      ledger: { table: 'credit_transactions', columns: txColumns },
      balance: { table: 'credit_transactions', column: 'amount', key: 'user_id' },
    };

    for (const [config, key, text] of [
      [onUsers, 'ledger', 'is the users table'],
      [onLedger, 'balance', "is the ledger's table"],
    ] as const) {
      const r = await w.cli(['reconcile', '--since', String(now() - 3 * DAY)], config);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(text);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      const doc = await w.doctor(config);
      expect(doc.code).toBe(2);
      expect(doc.findings.filter((f) => f.level === 'fail' && f.message.includes(text)).map((f) => f.check)).toEqual([
        key,
      ]);
    }
    expect(await w.app.query('SELECT id, credits, stripe_ref FROM users')).toEqual([
      { id: 1, credits: null, stripe_ref: null },
    ]);
    expect(await w.app.query('SELECT * FROM credit_transactions')).toEqual([]);

    // The balance on the users table is what it is for.
    const fine = { ledger: { table: 'credit_transactions', columns: txColumns }, balance: { column: 'credits' } };
    const r = await w.reconcile(fine);
    expect(r.code, r.stderr).toBe(0);
    expect(r.item(p)).toMatchObject({ status: 'credited', userId: '1' });
    expect(await w.app.query('SELECT id, credits FROM users')).toEqual([{ id: 1, credits: 5 }]);
  });
});
