import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import {
  createAppDb,
  query,
  runCli,
  sha256,
  tempDir,
  writeJson,
  now,
  DAY,
  HOUR,
  type CliResult,
} from '../helpers/cli.js';

/**
 * Bad input through the real CLI: every error is one line on stderr starting with
 * `stripe-credits: `, the right exit code, no stack trace unless --verbose, the key never printed
 * whole, and the database untouched where the command should not have written.
 */

const KEY = 'sk_test_errorsE2eSecretKey9f3k2b7d';
const WRONG_KEY = 'sk_test_wrongWrongWrongKeyQz81abcd';

/** A window well in the past with three payments, each for a known user. */
const T0 = now() - 10 * DAY;
const SINCE = String(T0);
const UNTIL = String(T0 + DAY);
const WINDOW = ['--since', SINCE, '--until', UNTIL];

const dirs: Array<{ cleanup(): void }> = [];

/** A fresh temp dir holding an app database with users 1..5. */
function fresh(): { dir: string; db: string } {
  const t = tempDir('sc-errors-');
  dirs.push(t);
  const db = createAppDb(
    join(t.dir, 'app.db'),
    [1, 2, 3, 4, 5].map((i) => ({ id: i, email: `user${i}@example.com`, name: `User ${i}` })),
  );
  return { dir: t.dir, db };
}

function lines(s: string): string[] {
  return s.split('\n').filter((l) => l.trim() !== '');
}

/**
 * The one way SPEC wants an error: exit code, the first stderr line is `stripe-credits: …` naming the
 * problem, other lines are hints (no stack trace) unless --verbose, and no secret printed whole.
 */
function expectError(
  r: CliResult,
  code: number,
  pattern: RegExp,
  opts: { verbose?: boolean; secrets?: string[] } = {},
): string {
  expect(r.code, `exit code; stderr was: ${r.stderr}`).toBe(code);
  const ls = lines(r.stderr);
  expect(ls.length, 'stderr has a line').toBeGreaterThan(0);
  // --verbose adds progress lines on stderr before the error; the error line is still there, whole.
  const first = opts.verbose ? (ls.find((l) => l.startsWith('stripe-credits: ')) ?? ls[0]!) : ls[0]!;
  expect(first).toMatch(/^stripe-credits: \S/);
  expect(first).toMatch(pattern);
  if (!opts.verbose) {
    expect(r.stderr, 'no stack trace without --verbose').not.toMatch(/^\s+at /m);
    for (const l of ls.slice(1)) expect(l, 'only hint lines after the message').toMatch(/^ {2}hint: \S/);
  }
  for (const s of [KEY, WRONG_KEY, ...(opts.secrets ?? [])]) {
    expect(r.stdout).not.toContain(s);
    expect(r.stderr).not.toContain(s);
  }
  return first;
}

let sim: StripeSimulator;

beforeAll(async () => {
  sim = await startSimulator({ apiKeys: [KEY] });
  for (let i = 1; i <= 3; i++) {
    const paidAt = T0 + i * HOUR;
    sim.store.createCheckoutPayment({
      created: paidAt - 60,
      paidAt,
      clientReferenceId: String(i),
      amount: 1000,
      metadata: { credits: '100' },
    });
  }
});

afterAll(async () => {
  await sim?.close();
  for (const d of dirs) d.cleanup();
});

function cli(args: string[], cwd: string, env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return runCli(args, { cwd, env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url, ...env } });
}

describe.concurrent('the Stripe API key', () => {
  it('no STRIPE_API_KEY: exit 2, database unchanged', async () => {
    const { dir, db } = fresh();
    const before = sha256(db);
    const r = await cli(['reconcile', '--db', db, ...WINDOW], dir, { STRIPE_API_KEY: undefined });
    expectError(r, 2, /STRIPE_API_KEY/);
    expect(sha256(db)).toBe(before);
  });

  it('STRIPE_API_KEY_FILE naming a file that holds the key works', async () => {
    const { dir, db } = fresh();
    const keyFile = join(dir, 'stripe.key');
    writeFileSync(keyFile, `${KEY}\n`);
    const before = sha256(db);
    const r = await cli(['reconcile', '--db', db, ...WINDOW, '--dry-run', '--json'], dir, {
      STRIPE_API_KEY: undefined,
      STRIPE_API_KEY_FILE: keyFile,
    });
    expect(r.code, r.stderr).toBe(3); // a dry run that found credits to write
    const report = JSON.parse(r.stdout) as { mode: string; counts: { wouldCredit: number } };
    expect(report.mode).toBe('dry-run');
    expect(report.counts.wouldCredit).toBe(3);
    expect(r.stdout + r.stderr).not.toContain(KEY);
    expect(sha256(db)).toBe(before);
  });

  it('STRIPE_API_KEY_FILE naming a missing file: exit 2, names the variable', async () => {
    const { dir, db } = fresh();
    const before = sha256(db);
    const r = await cli(['reconcile', '--db', db, ...WINDOW], dir, {
      STRIPE_API_KEY: undefined,
      STRIPE_API_KEY_FILE: join(dir, 'nope.key'),
    });
    expectError(r, 2, /STRIPE_API_KEY_FILE.*nope\.key/);
    expect(sha256(db)).toBe(before);
  });

  it('a publishable key: exit 2, says it is publishable, not printed whole', async () => {
    const { dir, db } = fresh();
    const pk = 'pk_test_publishableKey1234567890xyz';
    const before = sha256(db);
    const r = await cli(['reconcile', '--db', db, ...WINDOW], dir, { STRIPE_API_KEY: pk });
    expectError(r, 2, /publishable/i, { secrets: [pk] });
    expect(sha256(db)).toBe(before);
  });

  it('a key Stripe rejects (401): exit 2, at most a masked form, database unchanged on a dry run', async () => {
    const { dir, db } = fresh();
    const before = sha256(db);
    const r = await cli(['reconcile', '--db', db, ...WINDOW, '--dry-run'], dir, { STRIPE_API_KEY: WRONG_KEY });
    const line = expectError(r, 2, /reject|invalid|401/i, { secrets: ['wrongWrongWrongKey'] });
    // Only a masked form, if any: prefix, stars, at most the last four characters.
    for (const m of line.matchAll(/sk_test_\S*/g))
      expect(m[0]).toMatch(/^sk_test_\*{4}[A-Za-z0-9]{0,4}(?![A-Za-z0-9])/);
    expect(sha256(db)).toBe(before);
  });

  it('a key Stripe rejects on an apply run: exit 2, the database untouched (no migration, no run recorded)', async () => {
    const { dir, db } = fresh();
    const before = sha256(db);
    const r = await cli(['reconcile', '--db', db, ...WINDOW, '--json'], dir, { STRIPE_API_KEY: WRONG_KEY });
    const line = expectError(r, 2, /reject|invalid|401/i, { secrets: ['wrongWrongWrongKey'] });
    expect(line).toMatch(/sk_test_\*{4}[A-Za-z0-9]{4}\b/); // the masked key keeps its last four characters
    expect(JSON.parse(r.stdout)).toEqual({ error: { exitCode: 2, message: expect.stringMatching(/401/) } });
    expect(sha256(db)).toBe(before);
  });

  it('--verbose on a rejected key keeps the one-line message first and adds the stack', async () => {
    const { dir, db } = fresh();
    const r = await cli(['reconcile', '--db', db, ...WINDOW, '--dry-run', '--verbose'], dir, {
      STRIPE_API_KEY: WRONG_KEY,
    });
    expectError(r, 2, /reject|invalid|401/i, { verbose: true, secrets: ['wrongWrongWrongKey'] });
    expect(r.stderr).toMatch(/^\s+at /m);
  });
});

describe.concurrent('flags and commands', () => {
  for (const bad of ['yesterday-ish', '2026-13-45']) {
    it(`--since ${bad}: exit 2, names the flag and the value, database unchanged`, async () => {
      const { dir, db } = fresh();
      const before = sha256(db);
      const r = await cli(['reconcile', '--db', db, '--since', bad, '--until', UNTIL], dir);
      expectError(r, 2, new RegExp(`--since.*${bad}`));
      expect(sha256(db)).toBe(before);
    });
  }

  it('--since after --until on an apply run: exit 2, database unchanged', async () => {
    const { dir, db } = fresh();
    const before = sha256(db);
    const r = await cli(['reconcile', '--db', db, '--since', UNTIL, '--until', SINCE], dir);
    expectError(r, 2, /--since.*before.*--until/);
    expect(sha256(db)).toBe(before);
  });

  it('--since in the future (until defaults to now) on an apply run: exit 2, database unchanged', async () => {
    const { dir, db } = fresh();
    const before = sha256(db);
    const r = await cli(['reconcile', '--db', db, '--since', String(now() + DAY)], dir);
    expectError(r, 2, /--since/);
    expect(sha256(db)).toBe(before);
  });

  it('an unknown flag: exit 2, names it', async () => {
    const { dir, db } = fresh();
    const before = sha256(db);
    const r = await cli(['reconcile', '--db', db, '--frobnicate'], dir);
    expectError(r, 2, /--frobnicate/);
    expect(sha256(db)).toBe(before);
  });

  it('an unknown command: exit 2, names it', async () => {
    const { dir } = fresh();
    const r = await cli(['frobnicate'], dir);
    expectError(r, 2, /frobnicate/);
  });

  it('doctor with a bad config file: exit 2 with the one clear line, not a report', async () => {
    const { dir, db } = fresh();
    const path = writeJson(join(dir, 'conf.json'), { maxCreditPerRun: 10 });
    const r = await cli(['doctor', '--db', db, '--config', path], dir);
    expectError(r, 2, /unknown key "maxCreditPerRun"/);
    expect(r.stdout).toBe('');
  });

  it('doctor with a bad config file and --json prints the error document', async () => {
    const { dir, db } = fresh();
    const path = writeJson(join(dir, 'conf.json'), { users: { tabel: 'users' } });
    const r = await cli(['doctor', '--db', db, '--config', path, '--json'], dir);
    const line = expectError(r, 2, /unknown key "tabel"/);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    expect(JSON.parse(r.stdout)).toEqual({ error: { exitCode: 2, message: line.replace(/^stripe-credits: /, '') } });
  });
});

describe.concurrent('--json with an error', () => {
  for (const [name, args] of [
    ['a bad --since', ['--since', 'yesterday-ish']],
    ['an unknown flag', ['--frobnicate']],
  ] as const) {
    it(`${name}: stdout is exactly one JSON error document, stderr still has the line`, async () => {
      const { dir, db } = fresh();
      const before = sha256(db);
      const r = await cli(['reconcile', '--db', db, '--json', ...args], dir);
      const line = expectError(r, 2, /./);
      expect(r.stdout.endsWith('\n')).toBe(true);
      expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
      const doc = JSON.parse(r.stdout) as unknown;
      expect(doc).toEqual({ error: { exitCode: 2, message: expect.any(String) } });
      expect(`stripe-credits: ${(doc as { error: { message: string } }).error.message}`).toBe(line);
      expect(sha256(db)).toBe(before);
    });
  }
});

describe.concurrent('the config file', () => {
  async function withConfig(config: unknown, expectPattern: RegExp, opts: { viaEnv?: boolean; raw?: string } = {}) {
    const { dir, db } = fresh();
    const path = join(dir, 'conf.json');
    if (opts.raw !== undefined) writeFileSync(path, opts.raw);
    else writeJson(path, config);
    const before = sha256(db);
    const r = await cli(
      ['reconcile', '--db', db, ...WINDOW, ...(opts.viaEnv ? [] : ['--config', path])],
      dir,
      opts.viaEnv ? { STRIPE_CREDITS_CONFIG: path } : {},
    );
    const line = expectError(r, 2, expectPattern);
    expect(sha256(db)).toBe(before);
    return { line, db, dir };
  }

  it('--config naming a missing file: exit 2, names the file', async () => {
    const { dir, db } = fresh();
    const before = sha256(db);
    const r = await cli(['reconcile', '--db', db, ...WINDOW, '--config', join(dir, 'missing.json')], dir);
    expectError(r, 2, /config.*missing\.json/);
    expect(sha256(db)).toBe(before);
  });

  it('invalid JSON: exit 2, says so', async () => {
    await withConfig(null, /conf\.json.*not valid JSON/, { raw: '{ "users": { "table": "users", } ' });
  });

  it('an unknown key (a typo): exit 2, names the key', async () => {
    await withConfig({ maxCreditPerRun: 10 }, /unknown key "maxCreditPerRun"/);
  });

  it('a nested unknown key: exit 2, names it and where', async () => {
    await withConfig({ users: { tabel: 'users' } }, /users.*unknown key "tabel"/);
  });

  it('a bad identifier in users.table: exit 2, nothing executed', async () => {
    const { db } = await withConfig(
      { users: { table: 'users; drop table users' } },
      /users\.table.*not a valid SQL identifier/,
    );
    expect(query(db, 'SELECT count(*) AS n FROM users')).toEqual([{ n: 5 }]);
  });

  it('a users table that does not exist: exit 2, names it and lists the tables the database has', async () => {
    const { dir, db } = fresh();
    createAppDb(db, [], { table: 'orders' }); // a second table, so the list has two
    const path = writeJson(join(dir, 'conf.json'), { users: { table: 'customers' } });
    const before = sha256(db);
    const r = await cli(['reconcile', '--db', db, ...WINDOW, '--config', path], dir);
    const line = expectError(r, 2, /"customers".*not found/);
    expect(line).toMatch(/users/);
    expect(line).toMatch(/orders/);
    expect(sha256(db)).toBe(before);
  });

  it('the default users table missing (no config): exit 2, names "users"', async () => {
    const { dir } = fresh();
    const db = createAppDb(join(dir, 'members.db'), [{ id: 1, email: 'a@example.com' }], { table: 'members' });
    const before = sha256(db);
    const r = await cli(['reconcile', '--db', db, ...WINDOW], dir);
    expectError(r, 2, /"users".*not found.*members/);
    expect(sha256(db)).toBe(before);
  });

  it('a missing column: exit 2, names it and lists the columns the table has', async () => {
    const { line } = await withConfig({ users: { email: 'mail' } }, /"mail"/);
    expect(line).toMatch(/users\.email/);
    expect(line).toMatch(/id, email, name/);
  });

  it('STRIPE_CREDITS_CONFIG is read like --config (a bad one fails)', async () => {
    await withConfig({ maxCreditPerRun: 10 }, /unknown key "maxCreditPerRun"/, { viaEnv: true });
  });

  it('STRIPE_CREDITS_CONFIG is read like --config (a good one is used)', async () => {
    const { dir } = fresh();
    const db = createAppDb(
      join(dir, 'members.db'),
      [1, 2, 3].map((i) => ({ id: i, email: `user${i}@example.com` })),
      { table: 'members' },
    );
    const path = writeJson(join(dir, 'conf.json'), { users: { table: 'members' } });
    const before = sha256(db);
    const r = await cli(['reconcile', '--db', db, ...WINDOW, '--dry-run', '--json'], dir, {
      STRIPE_CREDITS_CONFIG: path,
    });
    expect(r.code, r.stderr).toBe(3);
    expect((JSON.parse(r.stdout) as { counts: { wouldCredit: number } }).counts.wouldCredit).toBe(3);
    expect(sha256(db)).toBe(before);
  });

  it('--config wins over STRIPE_CREDITS_CONFIG', async () => {
    const { dir, db } = fresh();
    const good = writeJson(join(dir, 'good.json'), {});
    const bad = writeJson(join(dir, 'bad.json'), { nope: 1 });
    const r = await cli(['reconcile', '--db', db, ...WINDOW, '--dry-run', '--config', good], dir, {
      STRIPE_CREDITS_CONFIG: bad,
    });
    expect(r.code, r.stderr).toBe(3);
  });

  it("a ledger mapping without paymentRef, or onto the tool's own table: exit 2 naming the key", async () => {
    await withConfig(
      { ledger: { table: 'credit_transactions', columns: { userId: 'user_id', credits: 'amount' } } },
      /config ledger\.columns\.paymentRef: is required/,
    );
    await withConfig(
      {
        ledger: {
          table: 'credit_ledger',
          columns: { userId: 'user_id', credits: 'credits', paymentRef: 'payment_key' },
        },
      },
      /config ledger\.table: "credit_ledger" is one of the tool's own tables/,
    );
    await withConfig(
      { ledger: { table: 't', columns: { userId: 'u', credits: 'c', paymentRef: 'r' }, set: { c: 1 } } },
      /config ledger\.set\.c: is already a mapped column/,
    );
    await withConfig({ balance: { table: 'users' } }, /config balance\.column: is required/);
  });

  it('credits.minAmountPerCredit: positive whole minor units per lowercase currency code, else exit 2 naming the key', async () => {
    await withConfig(
      { credits: { minAmountPerCredit: { USD: 5 } } },
      /config credits\.minAmountPerCredit\.USD: must be a currency code as Stripe writes it: three lowercase letters/,
    );
    await withConfig(
      { credits: { minAmountPerCredit: { us: 5 } } },
      /config credits\.minAmountPerCredit\.us: must be a currency code/,
    );
    await withConfig(
      { credits: { minAmountPerCredit: { usd: 0 } } },
      /config credits\.minAmountPerCredit\.usd: must be a positive integer/,
    );
    await withConfig(
      { credits: { minAmountPerCredit: { usd: 2.5 } } },
      /config credits\.minAmountPerCredit\.usd: must be a positive integer/,
    );
    await withConfig(
      { credits: { minAmountPerCredit: { usd: '5' } } },
      /config credits\.minAmountPerCredit\.usd: must be a positive integer/,
    );
    await withConfig({ credits: { minAmountPerCredit: 5 } }, /config credits\.minAmountPerCredit: must be an object/);
  });

  it('reversals: each of refunds and disputes is debit, review or ignore, else exit 2 naming the key', async () => {
    await withConfig(
      { reversals: { refunds: 'reverse' } },
      /config reversals\.refunds: must be "debit", "review" or "ignore", not "reverse"/,
    );
    await withConfig(
      { reversals: { disputes: true } },
      /config reversals\.disputes: must be "debit", "review" or "ignore", not true/,
    );
    await withConfig({ reversals: { refund: 'debit' } }, /config reversals: unknown key "refund"/);
    await withConfig({ reversals: 'debit' }, /config reversals: must be an object/);
  });

  it('a config error with --json prints the error document', async () => {
    const { dir, db } = fresh();
    const path = writeJson(join(dir, 'conf.json'), { maxCreditPerRun: 10 });
    const r = await cli(['reconcile', '--db', db, ...WINDOW, '--config', path, '--json'], dir);
    const line = expectError(r, 2, /maxCreditPerRun/);
    expect(JSON.parse(r.stdout)).toEqual({ error: { exitCode: 2, message: line.replace(/^stripe-credits: /, '') } });
  });
});

describe.concurrent('the database', () => {
  it('--db naming a missing file: exit 2, and no file is created', async () => {
    const { dir } = fresh();
    const missing = join(dir, 'nope', 'app.db');
    const r = await cli(['reconcile', '--db', missing, ...WINDOW], dir);
    expectError(r, 2, /database not found.*nope/);
    expect(existsSync(missing)).toBe(false);
  });

  it('DATABASE_URL naming a missing file: exit 2', async () => {
    const { dir } = fresh();
    const r = await cli(['reconcile', ...WINDOW], dir, { DATABASE_URL: join(dir, 'gone.db') });
    expectError(r, 2, /gone\.db/);
    expect(existsSync(join(dir, 'gone.db'))).toBe(false);
  });

  it('the default data/credits.db missing: exit 2, no file created', async () => {
    const { dir } = fresh();
    const r = await cli(['migrate'], dir);
    expectError(r, 2, /credits\.db/);
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });

  it('a file that is not SQLite: exit 2, file unchanged', async () => {
    const { dir } = fresh();
    const notDb = join(dir, 'notes.txt');
    writeFileSync(notDb, 'these are not the droids you are looking for\n'.repeat(200));
    const before = sha256(notDb);
    const r = await cli(['reconcile', '--db', notDb, ...WINDOW], dir);
    expectError(r, 2, /notes\.txt/);
    expect(sha256(notDb)).toBe(before);
    const m = await cli(['migrate', '--db', notDb], dir);
    expectError(m, 2, /notes\.txt/);
    expect(sha256(notDb)).toBe(before);
  });

  it('a postgres:// URL whose server is not there: exit 1, the password is not printed (needs no server)', async () => {
    const { dir } = fresh();
    const url = 'postgres://user:s3cretPassw0rd@127.0.0.1:1/x';
    const r = await cli(['reconcile', '--db', url, ...WINDOW, '--json'], dir);
    expectError(r, 1, /cannot reach the database server at 127\.0\.0\.1:1: connection refused/, {
      secrets: ['s3cretPassw0rd'],
    });
    const m = await cli(['migrate'], dir, { DATABASE_URL: url });
    expectError(m, 1, /cannot reach the database server/, { secrets: ['s3cretPassw0rd'] });
    const bad = await cli(['migrate'], dir, {
      DATABASE_URL: 'postgresql://user:s3cretPassw0rd@db.example/x?sslmode=prefer',
    });
    expectError(bad, 2, /sslmode=prefer/, { secrets: ['s3cretPassw0rd'] });
  });

  it('another URL scheme with credentials: exit 2, the password is not printed', async () => {
    const { dir } = fresh();
    const r = await cli(['migrate', '--db', 'mysql://root:hunter2pw@db.example/app'], dir);
    expectError(r, 2, /unsupported database URL/, { secrets: ['hunter2pw'] });
  });
});

describe.concurrent('migrate', () => {
  it("creates the tool's tables with the unique (payment_key, kind) index, and is idempotent", async () => {
    const { dir, db } = fresh();
    const r1 = await cli(['migrate', '--db', db], dir, { STRIPE_API_KEY: undefined });
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stderr).toBe('');
    const tables = query<{ name: string }>(db, "SELECT name FROM sqlite_master WHERE type = 'table'").map(
      (t) => t.name,
    );
    expect(tables).toEqual(
      expect.arrayContaining(['users', 'credit_ledger', 'stripe_credits_runs', 'stripe_credits_review']),
    );
    const indexes = query<{ name: string; unique: number }>(
      db,
      'SELECT name, "unique" FROM pragma_index_list(\'credit_ledger\')',
    );
    const uniqueCols = indexes
      .filter((i) => i.unique === 1)
      .map((i) =>
        query<{ name: string }>(db, 'SELECT name FROM pragma_index_info(?) ORDER BY seqno', i.name).map((c) => c.name),
      );
    expect(uniqueCols).toContainEqual(['payment_key', 'kind']);
    const schema = () => query(db, 'SELECT type, name, sql FROM sqlite_master ORDER BY name');
    const schema1 = schema();

    const r2 = await cli(['migrate', '--db', db, '--json'], dir, { STRIPE_API_KEY: undefined });
    expect(r2.code, r2.stderr).toBe(0);
    expect(JSON.parse(r2.stdout)).toMatchObject({ applied: [] });
    expect(schema()).toEqual(schema1);
    expect(query(db, 'SELECT count(*) AS n FROM users')).toEqual([{ n: 5 }]);
  });
});

describe.concurrent('the first apply run on an empty ledger', () => {
  it('without --since: exit 3, explains why, database byte-for-byte unchanged', async () => {
    const { dir, db } = fresh();
    const before = sha256(db);
    const r = await cli(['reconcile', '--db', db], dir);
    const line = expectError(r, 3, /first run.*--since/);
    expect(line).toMatch(/credited.*(twice|again|second)/);
    expect(r.stderr).toMatch(/hint: .*--yes/);
    expect(sha256(db)).toBe(before);
  });

  it('without --since, with --json: exit 3 and the error document', async () => {
    const { dir, db } = fresh();
    const before = sha256(db);
    const r = await cli(['reconcile', '--db', db, '--json'], dir);
    expectError(r, 3, /first run/);
    expect(JSON.parse(r.stdout)).toEqual({ error: { exitCode: 3, message: expect.stringMatching(/first run/) } });
    expect(sha256(db)).toBe(before);
  });

  it('with --yes it runs and credits', async () => {
    const { dir, db } = fresh();
    const r = await cli(['reconcile', '--db', db, '--yes', '--json'], dir);
    expect([0, 3], r.stderr).toContain(r.code);
    const report = JSON.parse(r.stdout) as { mode: string; counts: { credited: number } };
    expect(report.mode).toBe('apply');
    expect(report.counts.credited).toBe(3);
    expect(query(db, 'SELECT user_id, credits FROM credit_ledger ORDER BY user_id')).toEqual([
      { user_id: '1', credits: 100 },
      { user_id: '2', credits: 100 },
      { user_id: '3', credits: 100 },
    ]);
  });
});

describe.concurrent('Stripe unreachable', () => {
  const DEAD = { STRIPE_API_BASE: 'http://127.0.0.1:1', STRIPE_CREDITS_RETRY_SECONDS: '2' };

  // The retry budget bounds it (2 s here); were it ignored, the CLI helper's kill would fail the test.
  it('an apply run: exit 1 within the retry budget, one line, the run recorded as failed, nothing credited', async () => {
    const { dir, db } = fresh();
    const r = await cli(['reconcile', '--db', db, ...WINDOW], dir, DEAD);
    expectError(r, 1, /could not (reach|list)/i);
    const runs = query<{ status: string; error: string | null }>(db, 'SELECT status, error FROM stripe_credits_runs');
    expect(runs).toHaveLength(1);
    expect(runs[0]!.status).toBe('failed');
    expect(runs[0]!.error).toMatch(/./);
    expect(query(db, 'SELECT * FROM credit_ledger')).toEqual([]);
  });

  it('a dry run with --json: exit 1, error document, database unchanged', async () => {
    const { dir, db } = fresh();
    const before = sha256(db);
    const r = await cli(['reconcile', '--db', db, ...WINDOW, '--dry-run', '--json'], dir, DEAD);
    expectError(r, 1, /could not (reach|list)/i);
    expect(JSON.parse(r.stdout)).toEqual({ error: { exitCode: 1, message: expect.any(String) } });
    expect(sha256(db)).toBe(before);
  });

  it('--verbose keeps the one-line message first', async () => {
    const { dir, db } = fresh();
    const r = await cli(['reconcile', '--db', db, ...WINDOW, '--dry-run', '--verbose'], dir, DEAD);
    expectError(r, 1, /could not (reach|list)/i, { verbose: true });
  });

  it('a bad STRIPE_CREDITS_RETRY_SECONDS: exit 2', async () => {
    const { dir, db } = fresh();
    const before = sha256(db);
    const r = await cli(['reconcile', '--db', db, ...WINDOW], dir, { STRIPE_CREDITS_RETRY_SECONDS: 'soon' });
    expectError(r, 2, /STRIPE_CREDITS_RETRY_SECONDS/);
    expect(sha256(db)).toBe(before);
  });
});

describe('a flaky Stripe', () => {
  const COUNT = 150;
  let flaky: StripeSimulator;
  const F0 = now() - 5 * DAY;
  const FWINDOW = ['--since', String(F0), '--until', String(F0 + DAY)];
  const expected = new Map<string, { userId: string; credits: number }>();

  beforeAll(async () => {
    flaky = await startSimulator({ apiKeys: [KEY] });
    for (let i = 0; i < COUNT; i++) {
      const paidAt = F0 + 60 + i * 500;
      const userId = String((i % 5) + 1);
      const credits = 10 + i;
      const r = flaky.store.createCheckoutPayment({
        created: paidAt - 60,
        paidAt,
        clientReferenceId: userId,
        amount: 100 * credits,
        metadata: { credits: String(credits) },
      });
      expected.set(r.paymentIntent!.id, { userId, credits });
    }
  });
  afterAll(async () => {
    await flaky?.close();
  });

  function checkLedger(db: string) {
    const rows = query<{ payment_key: string; user_id: string; credits: number; kind: string }>(
      db,
      'SELECT payment_key, user_id, credits, kind FROM credit_ledger',
    );
    expect(rows).toHaveLength(expected.size);
    for (const row of rows)
      expect(expected.get(row.payment_key), row.payment_key).toEqual({ userId: row.user_id, credits: row.credits });
    expect(new Set(rows.map((r) => r.payment_key)).size).toBe(expected.size);
  }

  it('three 500s, then success: the run completes with the right ledger', async () => {
    const { dir, db } = fresh();
    flaky.failNext(3, '500');
    const r = await runCli(['reconcile', '--db', db, ...FWINDOW, '--json'], {
      cwd: dir,
      env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: flaky.url },
    });
    expect([0, 3], r.stderr).toContain(r.code);
    expect((JSON.parse(r.stdout) as { counts: { credited: number } }).counts.credited).toBe(COUNT);
    checkLedger(db);
    expect(query(db, 'SELECT status FROM stripe_credits_runs')).toEqual([{ status: 'succeeded' }]);
    expect(flaky.requests.filter((q) => q.status === 500)).toHaveLength(3);
  });

  it('random 429s, 500s and resets across pages: the run completes, one ledger entry per payment', async () => {
    const { dir, db } = fresh();
    flaky.resetRequestLog();
    flaky.setFaults({ rate429: 0.15, rate500: 0.05, rateReset: 0.03, seed: 7 });
    const r = await runCli(['reconcile', '--db', db, ...FWINDOW, '--json'], {
      cwd: dir,
      env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: flaky.url },
    });
    flaky.setFaults({ rate429: 0, rate500: 0, rateReset: 0 });
    expect([0, 3], r.stderr).toContain(r.code);
    expect((JSON.parse(r.stdout) as { counts: { credited: number } }).counts.credited).toBe(COUNT);
    checkLedger(db);
    // Faults did happen, and listing crossed pages.
    expect(flaky.requests.some((q) => q.status !== 200)).toBe(true);
    expect(
      flaky.requests.filter((q) => q.endpoint === 'GET /v1/checkout/sessions' && q.status === 200).length,
    ).toBeGreaterThanOrEqual(2);
    // A rerun credits nothing more.
    const again = await runCli(['reconcile', '--db', db, ...FWINDOW, '--json'], {
      cwd: dir,
      env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: flaky.url },
    });
    expect(again.code, again.stderr).toBe(0);
    checkLedger(db);
  });
});
