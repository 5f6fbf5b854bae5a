import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { openDatabase, parseDbUrl } from '../../src/ledger/db.js';
import type { StripeSimulator } from '../../src/simulator/index.js';
import { runCli, tempDir, writeJson, now, DAY, type CliResult } from '../helpers/cli.js';
import { createAppDb, engines, pgConnect, type AppDb } from '../helpers/engines.js';
import { closeWorld, openWorld } from '../helpers/world.js';

/**
 * Nothing holds a run (and its lock) for ever: a Stripe that answers a byte at a time, a run that
 * takes too long, a Postgres table locked by another session.
 */

const KEY = 'sk_test_deadlinesE2e4Kp9Rw2Tz';
const CONFIG = { credits: { unitAmountPerCredit: { usd: 100 } } };

/** A server that sends the head of an answer, then one byte of its body every 100 ms, never finishing. */
async function trickler(): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', () => {
      socket.write(
        'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nrequest-id: req_Tr1ckl3T3st\r\ncontent-length: 100000\r\n\r\n{',
      );
      const t = setInterval(() => socket.write(' '), 100);
      timers.add(t);
      socket.on('close', () => clearInterval(t));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    close: async () => {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('a Stripe that trickles', () => {
  let tmp: ReturnType<typeof tempDir>;
  let app: AppDb;
  let server: Awaited<ReturnType<typeof trickler>>;

  beforeEach(async () => {
    tmp = tempDir();
    app = await createAppDb('sqlite', tmp.dir, [{ id: 1, email: 'u1@example.com' }]);
    writeJson(join(tmp.dir, 'config.json'), CONFIG);
    server = await trickler();
  });
  afterEach(async () => {
    await server.close();
    await app.close();
    tmp.cleanup();
  });

  it('each request is cut at its deadline and retried; then the run exits 1, its lock released', async () => {
    const r = await runCli(['reconcile', '--db', app.url, '--config', 'config.json', '--since', '7d'], {
      cwd: tmp.dir,
      env: {
        STRIPE_API_KEY: KEY,
        STRIPE_API_BASE: server.url,
        STRIPE_CREDITS_REQUEST_SECONDS: '0.5',
        STRIPE_CREDITS_RETRY_SECONDS: '2',
      },
      timeoutMs: 30_000,
    });
    expect(r.code, r.stderr).toBe(1);
    const [first, ...rest] = r.stderr.trim().split('\n');
    expect(first).toMatch(
      /^stripe-credits: could not .* after \d+ attempts over \d+s: timeout: no complete answer within 0\.5 s/,
    );
    expect(rest.every((l) => /^ {2}hint: /.test(l))).toBe(true);
    // Retried: more than one attempt reached the server.
    expect(server.connections()).toBeGreaterThan(1);
    expect(await app.query('SELECT status FROM stripe_credits_runs')).toEqual([{ status: 'failed' }]);
    expect(await app.query('SELECT * FROM stripe_credits_lock')).toEqual([]);
  }, 40_000);
});

describe.each(engines())('a run over its wall-clock budget (%s)', (engine) => {
  let sim: StripeSimulator;
  let tmp: ReturnType<typeof tempDir>;
  let app: AppDb;

  beforeEach(async () => {
    ({ sim, tmp, app } = await openWorld(engine, { key: KEY, config: CONFIG, users: 3 }));
  });
  afterEach(() => closeWorld({ sim, tmp, app }));

  const run = (env: Record<string, string> = {}): Promise<CliResult> =>
    runCli(['reconcile', '--db', app.url, '--config', 'config.json', '--since', '7d'], {
      cwd: tmp.dir,
      env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url, ...env },
      timeoutMs: 40_000,
    });

  it('stops, exit 1, recorded as failed, the lock released; the next run credits', async () => {
    sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', amount: 1000 });
    expect((await run()).code).toBe(0);
    const late = sim.store.createCheckoutPayment({ created: now() - 600, clientReferenceId: '2', amount: 2000 });
    // Every answer takes longer than the whole run may.
    sim.setFaults({ latencyMs: 5000 });
    const r = await run({ STRIPE_CREDITS_RUN_SECONDS: '1' });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.split('\n')[0]).toMatch(
      /^stripe-credits: the run took longer than its budget of 1 s and stopped: nothing is left half-written or locked/,
    );
    const runs = await app.query<{ status: string; error: string | null }>(
      'SELECT status, error FROM stripe_credits_runs ORDER BY id',
    );
    expect(runs.map((x) => x.status)).toEqual(['succeeded', 'failed']);
    expect(runs[1]!.error).toMatch(/budget of 1 s/);
    expect(await app.query('SELECT * FROM stripe_credits_lock')).toEqual([]);

    sim.setFaults({ latencyMs: 0 });
    expect((await run()).code).toBe(0);
    expect(
      await app.query('SELECT payment_key FROM credit_ledger WHERE payment_key = ?', late.paymentIntent!.id),
    ).toHaveLength(1);
  }, 60_000);
});

describe.skipIf(!engines().includes('postgres'))('a Postgres table locked by another session', () => {
  let sim: StripeSimulator;
  let tmp: ReturnType<typeof tempDir>;
  let app: AppDb;

  beforeEach(async () => {
    ({ sim, tmp, app } = await openWorld('postgres', { key: KEY, config: CONFIG, users: 3 }));
  });
  afterEach(() => closeWorld({ sim, tmp, app }));

  it('every session waits for a lock 30 s at most and runs a statement 5 min at most, unless the URL says otherwise', async () => {
    const settings = async (url: string) => {
      const open = await openDatabase(parseDbUrl(url, tmp.dir), { readonly: true });
      try {
        const lock = await sql<{ lock_timeout: string }>`SHOW lock_timeout`.execute(open.db);
        const statement = await sql<{ statement_timeout: string }>`SHOW statement_timeout`.execute(open.db);
        const session = await open.session!();
        const [own] = await session.query<{ lock_timeout: string }>('SHOW lock_timeout');
        await session.close();
        return [lock.rows[0]!.lock_timeout, statement.rows[0]!.statement_timeout, own!.lock_timeout];
      } finally {
        await open.close();
      }
    };
    expect(await settings(app.url)).toEqual(['30s', '5min', '30s']);
    const own = new URL(app.url);
    own.searchParams.set('options', '-c lock_timeout=2s -c statement_timeout=0');
    expect(await settings(own.toString())).toEqual(['2s', '0', '2s']);
  });

  it('the defaults are SET once connected, never sent as startup options (PgBouncer refuses those)', async () => {
    const open = await openDatabase(parseDbUrl(app.url, tmp.dir), { readonly: true });
    try {
      const r = await sql<{
        name: string;
        source: string;
      }>`SELECT name, source FROM pg_settings WHERE name IN ('lock_timeout', 'statement_timeout') ORDER BY name`.execute(
        open.db,
      );
      // 'client' would mean the startup packet carried them; 'session' is a SET.
      expect(r.rows).toEqual([
        { name: 'lock_timeout', source: 'session' },
        { name: 'statement_timeout', source: 'session' },
      ]);
    } finally {
      await open.close();
    }
  });

  it('a run gives up after lock_timeout: exit 75, one line, and runs once the lock is gone', async () => {
    const run = (db: string) =>
      runCli(['reconcile', '--db', db, '--config', 'config.json', '--since', '7d'], {
        cwd: tmp.dir,
        env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url },
        timeoutMs: 40_000,
      });
    sim.store.createCheckoutPayment({ created: now() - DAY, clientReferenceId: '1', amount: 1000 });
    expect((await run(app.url)).code).toBe(0);
    const late = sim.store.createCheckoutPayment({ created: now() - 600, clientReferenceId: '2', amount: 2000 });

    const holder = await pgConnect(app.url);
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE credit_ledger IN ACCESS EXCLUSIVE MODE');
      const short = new URL(app.url);
      short.searchParams.set('options', '-c lock_timeout=500ms');
      const r = await run(short.toString());
      expect(r.code, r.stderr).toBe(75);
      const [first, ...rest] = r.stderr.trim().split('\n');
      expect(first).toMatch(
        /^stripe-credits: another database session held a lock this run needed for longer than lock_timeout \(canceling statement due to lock timeout\)/,
      );
      expect(rest.every((l) => /^ {2}hint: /.test(l))).toBe(true);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    expect(await app.query('SELECT * FROM stripe_credits_lock')).toEqual([]);
    const next = await run(app.url);
    expect(next.code, next.stderr).toBe(0);
    expect(
      await app.query('SELECT payment_key FROM credit_ledger WHERE payment_key = ?', late.paymentIntent!.id),
    ).toHaveLength(1);
  }, 60_000);
});
