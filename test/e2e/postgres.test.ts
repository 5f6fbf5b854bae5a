import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type StripeSimulator } from '../../src/simulator/index.js';
import { runCli, tempDir, writeJson, now, DAY, type CliResult } from '../helpers/cli.js';
import { createAppDb, createEmptyAppDb, pgAdmin, pgUrl, SQLITE_ONLY, type AppDb } from '../helpers/engines.js';
import { MIGRATION_NAMES } from '../../src/ledger/migrate.js';

/**
 * What only Postgres has: connection failures (one line, exit 2 or 1, never the password), TLS
 * from sslmode, a users table in another schema, the database user's privileges, and migrations
 * under Kysely's lock. The shared suites (reconcile, rules, cron, support) run on Postgres too.
 */

const KEY = 'sk_test_e2e_postgres';

function lines(s: string): string[] {
  return s.split('\n').filter((l) => l.trim() !== '');
}

/** One line `stripe-credits: …` (plus hints), the exit code, and no secret anywhere in the output. */
function expectError(r: CliResult, code: number, pattern: RegExp, secrets: string[] = []): string {
  expect(r.code, `exit code; stderr: ${r.stderr}`).toBe(code);
  const ls = lines(r.stderr);
  expect(ls[0]).toMatch(/^stripe-credits: \S/);
  expect(ls[0]).toMatch(pattern);
  for (const l of ls.slice(1)) expect(l).toMatch(/^ {2}hint: \S/);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  for (const s of secrets) {
    expect(r.stdout).not.toContain(s);
    expect(r.stderr).not.toContain(s);
  }
  return ls[0]!;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A login role of its own (roles belong to the whole server), dropped after the suite. */
const roles: string[] = [];
async function createRole(password: string): Promise<string> {
  const name = `sc_r_${randomBytes(5).toString('hex')}`;
  await (await pgAdmin()).query(`CREATE ROLE ${name} LOGIN PASSWORD '${password}'`);
  roles.push(name);
  return name;
}

/** Whether the server really checks passwords over TCP (a developer's server may trust local connections). */
async function passwordsChecked(role: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: pgUrl('postgres', { user: role, password: 'certainly-not-it' }) });
  c.on('error', () => {});
  try {
    await c.connect();
    await c.end();
    return false;
  } catch {
    return true;
  }
}

describe.skipIf(SQLITE_ONLY)('Postgres', () => {
  let sim: StripeSimulator;
  let tmp: ReturnType<typeof tempDir>;
  const dbs: AppDb[] = [];

  beforeAll(async () => {
    tmp = tempDir('sc-pg-');
    sim = await startSimulator({ apiKeys: [KEY] });
    for (let i = 1; i <= 3; i++)
      sim.store.createCheckoutPayment({ created: now() - DAY + i, clientReferenceId: String(i), amount: 1000 });
  });
  afterAll(async () => {
    await sim?.close();
    for (const d of dbs) await d.close();
    const admin = await pgAdmin();
    for (const r of roles) await admin.query(`DROP ROLE IF EXISTS ${r}`);
    tmp?.cleanup();
  });

  const cli = (args: string[], env: Record<string, string | undefined> = {}, opts: { process?: boolean } = {}) =>
    runCli(args, { cwd: tmp.dir, env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url, ...env }, ...opts });
  const users = [1, 2, 3].map((id) => ({ id, email: `u${id}@example.com`, name: `U${id}` }));
  async function appDb(opts: Parameters<typeof createAppDb>[3] = {}): Promise<AppDb> {
    const d = await createAppDb('postgres', tmp.dir, users, opts);
    dbs.push(d);
    return d;
  }
  /** The URL of a database with a user and password swapped in. */
  const as = (d: AppDb, user: string, password: string) => {
    const u = new URL(d.url);
    u.username = user;
    u.password = password;
    return u.toString();
  };
  const config = (name: string, value: unknown) => writeJson(join(tmp.dir, name), value);

  describe.concurrent('connecting', () => {
    it('a server that is not listening: exit 1 at once, one line, the password never printed', async () => {
      const url = `postgres://app:s3cretPassw0rd@127.0.0.1:${await freePort()}/app`;
      const r = await cli(['reconcile', '--db', url, '--since', '2d', '--json']);
      expectError(r, 1, /cannot reach the database server at 127\.0\.0\.1:\d+: connection refused/, ['s3cretPassw0rd']);
      expect(JSON.parse(r.stdout)).toEqual({
        error: { exitCode: 1, message: expect.stringMatching(/connection refused/) },
      });
      // Through DATABASE_URL, every command says the same.
      for (const cmd of [['migrate'], ['review'], ['balance', '1'], ['runs']]) {
        expectError(await cli(cmd, { DATABASE_URL: url }), 1, /cannot reach the database server/, ['s3cretPassw0rd']);
      }
    });

    it('a wrong password: exit 2, names the user, never the password', async () => {
      const d = await appDb();
      const role = await createRole('right-Passw0rd-1');
      if (!(await passwordsChecked(role))) {
        throw new Error('the test server must check passwords over TCP');
      }
      const url = as(d, role, 'wr0ng-Passw0rd-2');
      const r = await cli(['reconcile', '--db', url, '--since', '2d']);
      expectError(r, 2, new RegExp(`password authentication failed for user "${role}"`), [
        'wr0ng-Passw0rd-2',
        'right-Passw0rd-1',
      ]);
      expect(r.stderr).toContain(`postgres://${role}:***@`);
      const m = await cli(['migrate'], { DATABASE_URL: url });
      expectError(m, 2, /password authentication failed/, ['wr0ng-Passw0rd-2']);
      expect(await d.tables()).toEqual(['users']);
    });

    it('a database that does not exist: exit 2, names it; nothing is created', async () => {
      const name = `sc_missing_${randomBytes(4).toString('hex')}`;
      const url = pgUrl(name);
      const password = new URL(url).password;
      const r = await cli(['reconcile', '--db', url, '--since', '2d']);
      expectError(r, 2, new RegExp(`database "${name}" does not exist`), password ? [password] : []);
      const exists = await (await pgAdmin()).query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      expect(exists.rows).toEqual([]);
    });

    it('bad URLs and settings: exit 2 before connecting, the password masked', async () => {
      const pw = 'hunter2-Passw0rd';
      const cases: Array<[string, RegExp]> = [
        [`postgres://app:${pw}@db.example/app?sslmode=prefer`, /sslmode=prefer .* is not supported/],
        [`postgres://app:${pw}@db.example/app?sslmode=maybe`, /unknown sslmode 'maybe'/],
        [
          `postgresql://app:${pw}@db.example/app?schema=public`,
          /unsupported parameter 'schema' in the database URL postgresql:\/\/app:\*\*\*@db\.example\/app/,
        ],
        [`postgres://app:${pw}@db.example:99999/app`, /not a valid Postgres URL|bad port/],
        [
          `postgres://app:${pw}@db.example/app?sslrootcert=/nonexistent/ca.pem`,
          /cannot read sslrootcert \/nonexistent\/ca\.pem/,
        ],
        [`postgres://app:${pw}@db.example/app?connect_timeout=soon`, /bad connect_timeout/],
      ];
      for (const [url, pattern] of cases) expectError(await cli(['migrate', '--db', url]), 2, pattern, [pw]);
    });

    it('no password where the server wants one: exit 2, says where a password goes', async () => {
      const d = await appDb();
      const role = await createRole('some-Passw0rd-3');
      if (!(await passwordsChecked(role))) {
        throw new Error('the test server must check passwords over TCP');
      }
      const u = new URL(d.url);
      u.username = role;
      u.password = '';
      // At once: the half-open connection is dropped, not left to the server's authentication timeout
      // (60 s, beyond the CLI helper's kill, which would fail the test).
      expectError(
        await cli(['review', '--db', u.toString()], { PGPASSWORD: undefined }),
        2,
        /asks for a password and none was given/,
      );
    });
  });

  describe.concurrent('TLS from sslmode', () => {
    const ca = process.env.STRIPE_CREDITS_TEST_PG_CA;
    // The test server takes TLS with a certificate for "localhost" from a throwaway CA (test/global-setup.ts).
    const tls = (d: AppDb, params: string, host = '127.0.0.1') => {
      const u = new URL(d.url);
      u.hostname = host;
      return `${u.toString()}?${params}`;
    };
    const reads = async (url: string, env: Record<string, string> = {}) =>
      cli(['balance', '1', '--db', url, '--json'], env);

    it('require verifies the certificate, unlike libpq: untrusted is exit 2 with how to trust it', async () => {
      const d = await appDb();
      const r = await reads(tls(d, 'sslmode=require'));
      const line = expectError(r, 2, /TLS certificate is not trusted/, [new URL(d.url).password]);
      expect(line).toMatch(/self-signed certificate in certificate chain|unable to verify|unable to get local issuer/i);
      expect(r.stderr).toMatch(/hint: .*sslrootcert=.*NODE_EXTRA_CA_CERTS/);
      expect(await d.tables()).toEqual(['users']);
    });

    it('sslrootcert= or NODE_EXTRA_CA_CERTS trusts the CA; verify-full checks the host name, verify-ca does not', async () => {
      const d = await appDb();
      const ok = (r: CliResult) => {
        expect(r.code, r.stderr).toBe(0);
        expect(JSON.parse(r.stdout)).toMatchObject({ userId: '1', balance: 0 });
      };
      ok(await reads(tls(d, `sslmode=verify-full&sslrootcert=${ca}`, 'localhost')));
      ok(await reads(tls(d, `sslmode=require&sslrootcert=${ca}`, 'localhost')));
      ok(await reads(tls(d, 'sslmode=require', 'localhost'), { NODE_EXTRA_CA_CERTS: ca! }));
      // The certificate names localhost, not 127.0.0.1.
      expectError(
        await reads(tls(d, `sslmode=verify-full&sslrootcert=${ca}`)),
        2,
        /not trusted.*(altnames|Hostname\/IP does not match)/i,
      );
      ok(await reads(tls(d, `sslmode=verify-ca&sslrootcert=${ca}`)));
      ok(await reads(tls(d, 'sslmode=no-verify')));
      // Without TLS the same server takes the plain connection too (the refusals above were TLS's).
      ok(await reads(tls(d, 'sslmode=disable')));
    });
  });

  describe.concurrent('the users table', () => {
    it('in another schema, as "app.users" or with "schema": found there, never the public table of the same name', async () => {
      const d = await appDb({ table: 'app.users', columns: { id: 'uid', email: 'mail', name: 'full_name' } });
      // A decoy in the default schema with the default shape: must not be the one used.
      await d.exec(
        "CREATE TABLE public.users (id INTEGER PRIMARY KEY, email TEXT); INSERT INTO public.users VALUES (1, 'decoy@example.com')",
      );
      const shape = { id: 'uid', email: 'mail', name: 'full_name' };
      for (const users of [
        { table: 'app.users', ...shape },
        { schema: 'app', table: 'users', ...shape },
      ]) {
        const cfg = config(`schema-${users.table}.json`, { users, credits: { unitAmountPerCredit: { usd: 100 } } });
        const r = await cli(['reconcile', '--db', d.url, '--config', cfg, '--since', '2d', '--dry-run', '--json']);
        expect(r.code, r.stderr).toBe(3);
        const report = JSON.parse(r.stdout);
        expect(report.counts).toMatchObject({ payments: 3, wouldCredit: 3 });
        expect(report.items.map((i: { userId: string }) => i.userId).sort()).toEqual(['1', '2', '3']);
        const b = await cli(['balance', 'U2@example.com', '--db', d.url, '--config', cfg, '--json']);
        expect(b.code, b.stderr).toBe(0);
        expect(JSON.parse(b.stdout).user).toMatchObject({ id: '2', email: 'u2@example.com', name: 'U2' });
      }
      // Unqualified, "users" is the one the search path finds: public.users, which lacks the columns.
      const plain = config('plain.json', { users: shape });
      expectError(
        await cli(['review', '--db', d.url, '--config', plain]),
        2,
        /users table "users" has no column "uid".*it has: id, email/,
      );
    });

    it("the tool's tables go to the first schema of the search path (options=-c search_path=… in the URL)", async () => {
      const d = await appDb();
      await d.exec('CREATE SCHEMA billing');
      const url = `${d.url}?options=${encodeURIComponent('-c search_path=billing,public')}`;
      const cfg = config('billing.json', { credits: { unitAmountPerCredit: { usd: 100 } } });
      const r = await cli(['reconcile', '--db', url, '--config', cfg, '--since', '2d', '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).counts).toMatchObject({ credited: 3 });
      expect(await d.tables()).toEqual(['users']); // nothing of the tool's in public
      const inBilling = await d.query<{ t: string }>(
        "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'billing' ORDER BY 1",
      );
      expect(inBilling.map((x) => x.t)).toContain('credit_ledger');
      expect(await d.query('SELECT count(*) AS n FROM billing.credit_ledger')).toEqual([{ n: 3 }]);
      // Without the option the tool sees no tables of its own (public has none): a fresh start, not billing's.
      const b = await cli(['balance', '1', '--db', d.url, '--json']);
      expect(JSON.parse(b.stdout)).toMatchObject({ balance: 0, entries: [] });
      expect(JSON.parse((await cli(['balance', '1', '--db', url, '--json'])).stdout)).toMatchObject({ balance: 10 });
      // A second ledger in public, beside billing's: its own tables and its own migration bookkeeping.
      const m = await cli(['migrate', '--db', d.url, '--json']);
      expect(m.code, m.stderr).toBe(0);
      expect(JSON.parse(m.stdout).applied).toHaveLength(MIGRATION_NAMES.length);
      expect(await d.tables()).toEqual(expect.arrayContaining(['credit_ledger', 'stripe_credits_migration', 'users']));
      expect(await d.query('SELECT count(*) AS n FROM public.credit_ledger')).toEqual([{ n: 0 }]);
    });

    it('only in a schema outside the search path: exit 2, says where it is', async () => {
      const d = await appDb({ table: 'app.users' });
      const r = await cli(['review', '--db', d.url]);
      expectError(r, 2, /users table "users" not found in the database \(it has: app\.users\)/);
      expect(r.stderr).toMatch(/hint: there is app\.users, outside the search path: set users\.table to "app\.users"/);
    });

    it('bigint ids beyond 2^53: matched and recorded as exact text', async () => {
      const big = '9007199254740993123';
      const sim = await startSimulator({ apiKeys: [KEY] });
      const d = await createEmptyAppDb('postgres', tmp.dir);
      dbs.push(d);
      await d.exec(
        `CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT, name TEXT); INSERT INTO users VALUES (${big}, 'big@example.com', 'Big')`,
      );
      const p = sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: big, amount: 2000 })
        .paymentIntent!.id;
      try {
        const near = sim.store.createCheckoutPayment({
          created: now() - DAY,
          clientReferenceId: '9007199254740993124',
          amount: 2000,
        }).paymentIntent!.id;
        const cfg = config('big.json', { credits: { unitAmountPerCredit: { usd: 100 } } });
        const r = await runCli(['reconcile', '--db', d.url, '--config', cfg, '--since', '2d', '--json'], {
          cwd: tmp.dir,
          env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url },
        });
        expect(r.code, r.stderr).toBe(3); // the neighbouring id finds nobody: review
        const items = new Map(JSON.parse(r.stdout).items.map((i: { paymentKey: string }) => [i.paymentKey, i]));
        expect(items.get(p)).toMatchObject({ status: 'credited', userId: big, credits: 20 });
        expect(items.get(near)).toMatchObject({ status: 'needs_review', reason: 'no_user' });
        expect(await d.query('SELECT user_id, credits FROM credit_ledger')).toEqual([{ user_id: big, credits: 20 }]);
        const b = await cli(['balance', big, '--db', d.url, '--json']);
        expect(JSON.parse(b.stdout)).toMatchObject({ userId: big, balance: 20 });
      } finally {
        await sim.close();
      }
    });
  });

  describe.concurrent('privileges', () => {
    it('with the grants docs/postgres.md gives a role of its own runs everything; without SELECT on the users table it is exit 2', async () => {
      const d = await appDb();
      const pw = 'tool-Passw0rd-4';
      const role = await createRole(pw);
      const db = new URL(d.url).pathname.slice(1);
      // What docs/postgres.md tells an operator to grant (Postgres 15: nobody may create in public by default).
      await d.exec(`GRANT CONNECT ON DATABASE ${db} TO ${role}; GRANT USAGE, CREATE ON SCHEMA public TO ${role}`);
      const url = as(d, role, pw);
      const cfg = config('priv.json', { credits: { unitAmountPerCredit: { usd: 100 } } });
      // No SELECT on users yet.
      const denied = await cli(['reconcile', '--db', url, '--config', cfg, '--since', '2d', '--dry-run']);
      expectError(denied, 2, /permission denied for table users/, [pw]);
      expect(denied.stderr).toMatch(/hint: .*privilege.*docs\/postgres\.md/);
      await d.exec(`GRANT SELECT ON public.users TO ${role}`);
      const run = await cli(['reconcile', '--db', url, '--config', cfg, '--since', '2d', '--json']);
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout).counts).toMatchObject({ credited: 3 });
      expect(await d.query('SELECT tableowner AS o FROM pg_tables WHERE tablename = ?', 'credit_ledger')).toEqual([
        { o: role },
      ]);
      const adj = await cli(['adjust', '--user', '1', '--credits', '5', '--reason', 'x', '--db', url, '--config', cfg]);
      expect(adj.code, adj.stderr).toBe(0);
      // It never needed to write to the app's table.
      expect(
        await d.query(
          "SELECT privilege_type AS p FROM information_schema.role_table_grants WHERE grantee = ? AND table_name = 'users'",
          role,
        ),
      ).toEqual([{ p: 'SELECT' }]);
    });

    it('a role that may not create tables: migrate is exit 2 with what to grant', async () => {
      const d = await appDb();
      const pw = 'ro-Passw0rd-5';
      const role = await createRole(pw);
      const db = new URL(d.url).pathname.slice(1);
      await d.exec(`GRANT CONNECT ON DATABASE ${db} TO ${role}; GRANT SELECT ON public.users TO ${role}`);
      const r = await cli(['migrate', '--db', as(d, role, pw)]);
      expectError(r, 2, /failed: permission denied for schema public/, [pw]);
      expect(r.stderr).toMatch(/hint: .*CREATE on the schema/);
      expect(await d.tables()).toEqual(['users']);
    });
  });

  it("the tool's connections killed again and again mid-run: one line and exit 1, or 75 when the run lock's went (or the run copes); the rerun leaves one entry per payment", async () => {
    const d = await appDb();
    const own = await startSimulator({ apiKeys: [KEY] });
    try {
      for (let i = 0; i < 600; i++)
        own.store.createCheckoutPayment({
          created: now() - DAY + i,
          clientReferenceId: String((i % 3) + 1),
          metadata: { credits: '1' },
          amount: 100,
        });
      own.setFaults({ latencyMs: 10 });
      const args = ['reconcile', '--db', d.url, '--since', '2d', '--json'];
      const env = { STRIPE_API_KEY: KEY, STRIPE_API_BASE: own.url };
      const running = runCli(args, { cwd: tmp.dir, env, process: true });
      const admin = await pgAdmin();
      const database = new URL(d.url).pathname.slice(1);
      let killed = 0;
      for (let k = 0; k < 40 && killed < 6; k++) {
        await new Promise((r) => setTimeout(r, 100));
        const r = await admin.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'stripe-credits') t",
          [database],
        );
        killed += r.rows[0]!.n;
      }
      const r = await running;
      expect(killed).toBeGreaterThan(0);
      if (r.code === 75) {
        // The lock's own connection was among those killed: the run stops before writing.
        expectError(r, 75, /the run lock was lost before writing \(its database session ended.*nothing was written/);
        expect(JSON.parse(r.stdout)).toEqual({ error: { exitCode: 75, message: expect.any(String) } });
      } else if (r.code !== 0) {
        expectError(r, 1, /lost the connection to the database/);
        expect(JSON.parse(r.stdout)).toEqual({ error: { exitCode: 1, message: expect.any(String) } });
      }
      own.setFaults({ latencyMs: 0 });
      const again = await runCli(args, { cwd: tmp.dir, env });
      expect(again.code, again.stderr).toBe(0);
      expect(
        await d.query(
          "SELECT count(*) AS n, count(DISTINCT payment_key) AS k, sum(credits) AS c FROM credit_ledger WHERE kind = 'purchase'",
        ),
      ).toEqual([{ n: 600, k: 600, c: 600 }]);
    } finally {
      await own.close();
    }
  });

  describe.concurrent('migrations', () => {
    it('four processes migrating a new database at once: each exits 0, the tables exist once, with the unique index', async () => {
      const d = await appDb();
      const results = await Promise.all(
        [1, 2, 3, 4].map(() => cli(['migrate', '--db', d.url, '--json'], {}, { process: true })),
      );
      for (const r of results) expect(r.code, r.stderr).toBe(0);
      const applied = results.map((r) => JSON.parse(r.stdout).applied as string[]);
      expect(applied.filter((a) => a.length > 0)).toHaveLength(1);
      expect(applied.find((a) => a.length > 0)).toEqual([
        '0001-initial',
        '0002-payments',
        '0003-support',
        '0004-cron',
        '0005-baseline',
        '0006-fewer-indexes',
        '0007-record-session-index',
        '0008-ledger-session-index',
        '0009-ledger-matched-by',
        '0010-review-detail',
        '0011-review-reversals',
        '0012-audit-resolutions',
        '0013-record-snapshot',
        '0014-console-accounts',
      ]);
      expect(await d.tables()).toEqual([
        'credit_ledger',
        'stripe_credits_audit_resolutions',
        'stripe_credits_baseline',
        'stripe_credits_console_sessions',
        'stripe_credits_console_users',
        'stripe_credits_lock',
        'stripe_credits_migration',
        'stripe_credits_migration_lock',
        'stripe_credits_payments',
        'stripe_credits_review',
        'stripe_credits_runs',
        'stripe_credits_state',
        'users',
      ]);
      const idx = await d.query<{ def: string }>(
        "SELECT indexdef AS def FROM pg_indexes WHERE tablename = 'credit_ledger' AND indexdef LIKE 'CREATE UNIQUE%'",
      );
      expect(idx.map((i) => i.def)).toContainEqual(
        expect.stringMatching(
          /UNIQUE INDEX credit_ledger_payment_key_kind ON public\.credit_ledger USING btree \(payment_key, kind\)/,
        ),
      );
      const again = await cli(['migrate', '--db', d.url, '--json']);
      expect(JSON.parse(again.stdout)).toMatchObject({
        database: expect.stringMatching(/^postgres:\/\/postgres:\*\*\*@/),
        applied: [],
      });
    });

    it('a dry run and the read-only commands never migrate and run read-only', async () => {
      const d = await appDb();
      const before = await d.fingerprint();
      expect((await cli(['reconcile', '--db', d.url, '--since', '2d', '--dry-run'])).code).toBe(3);
      for (const cmd of [['review'], ['balance', '1'], ['runs'], ['lookup', '1']]) {
        const r = await cli([...cmd, '--db', d.url]);
        expect(r.code, `${cmd[0]}: ${r.stderr}`).toBe(0);
      }
      expect(await d.fingerprint()).toBe(before);
      expect(await d.tables()).toEqual(['users']);
    });
  });
});
