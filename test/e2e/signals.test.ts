import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StripeSimulator } from '../../src/simulator/index.js';
import { BIN, runCli, tempDir, now, DAY, type CliResult } from '../helpers/cli.js';
import { engines, type AppDb } from '../helpers/engines.js';
import { closeWorld, openWorld } from '../helpers/world.js';

/**
 * How a run ends when its terminal or its supervisor is unusual: a pseudo-terminal that reports 0
 * columns (`docker exec -t`, `script`), and SIGTERM / SIGINT as cron, systemd and Kubernetes send them.
 */

const KEY = 'sk_test_signalsE2e7Hq2Lx9Wd4Mz';
const CONFIG = { credits: { unitAmountPerCredit: { usd: 100 } } };
const SCRIPT = existsSync('/usr/bin/script') ? '/usr/bin/script' : null;

/** Single quotes for a shell word. */
const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

interface Child {
  result: Promise<CliResult>;
  kill(signal: NodeJS.Signals): void;
}

/** Spawns a command with the test's environment (no STRIPE_* or DATABASE_URL of the caller's). */
function start(
  cmd: string,
  args: string[],
  opts: { cwd: string; env: Record<string, string>; timeoutMs: number },
): Child {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith('STRIPE') && k !== 'DATABASE_URL') env[k] = v;
  Object.assign(env, opts.env);
  // A process group of its own: a run that hangs is killed with everything it started.
  const child = spawn(cmd, args, { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const result = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), opts.timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? -1 : null), stdout, stderr });
    });
  });
  return { result, kill: (s) => child.kill(s) };
}

describe.skipIf(SCRIPT === null)('a pseudo-terminal that reports 0 columns', () => {
  let sim: StripeSimulator;
  let tmp: ReturnType<typeof tempDir>;
  let app: AppDb;

  beforeEach(async () => {
    ({ sim, tmp, app } = await openWorld('sqlite', { key: KEY, config: CONFIG, users: 3 }));
  });
  afterEach(() => closeWorld({ sim, tmp, app }));

  it('a run that would show the spinner on such a terminal finishes, and its output is whole', async () => {
    // Slow answers: the spinner is up before the run ends (its module loads while the run starts).
    sim.setFaults({ latencyMs: 400 });
    for (let i = 0; i < 3; i++)
      sim.store.createCheckoutPayment({
        created: now() - DAY + i * 600,
        clientReferenceId: String(i + 1),
        amount: 1000,
      });
    const inner = `stty cols 0 rows 0; ${sh(process.execPath)} ${sh(BIN)} reconcile --db ${sh(app.url)} --config config.json --since 7d --dry-run > o.txt`;
    const child = start(SCRIPT!, ['-qec', inner, '/dev/null'], {
      cwd: tmp.dir,
      env: { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url },
      timeoutMs: 20_000,
    });
    const r = await child.result;
    // Exit 3: the dry run found credits to write. A spinner that loops is killed (-1) instead.
    expect(r.code, r.stderr).toBe(3);
    expect(readFileSync(join(tmp.dir, 'o.txt'), 'utf8')).toMatch(/3 payments: 3 would be credited \(30 credits\)/);
    // What reached the terminal is a few lines, not a stream of cursor movements.
    expect(r.stdout.length).toBeLessThan(10_000);
  }, 30_000);
});

describe.each(engines())('a run stopped by a signal (%s)', (engine) => {
  let sim: StripeSimulator;
  let tmp: ReturnType<typeof tempDir>;
  let app: AppDb;
  let env: Record<string, string>;

  beforeEach(async () => {
    ({ sim, tmp, app } = await openWorld(engine, { key: KEY, config: CONFIG, users: 5 }));
    env = { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url };
  });
  afterEach(() => closeWorld({ sim, tmp, app }));

  const args = (...more: string[]) => [
    'reconcile',
    '--db',
    app.url,
    '--config',
    'config.json',
    '--since',
    '7d',
    ...more,
  ];

  /** Waits until the run has recorded itself and asked Stripe a few times: it is mid-read. */
  async function midRun(): Promise<void> {
    for (let i = 0; i < 400; i++) {
      const running = await app
        .query<{ n: number }>("SELECT count(*) AS n FROM stripe_credits_runs WHERE status = 'running'")
        .catch(() => [{ n: 0 }]);
      if (Number(running[0]!.n) > 0 && sim.requests.length >= 3) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the run never got under way');
  }

  // SIGINT is the same path as SIGTERM: once, on SQLite (a test not defined, rather than skipped).
  const signals =
    engine === 'sqlite'
      ? ([
          ['SIGTERM', 143],
          ['SIGINT', 130],
        ] as const)
      : ([['SIGTERM', 143]] as const);
  for (const [signal, code] of signals) {
    it(`${signal} mid-run: exit ${code}, the run recorded as interrupted, the lock free, the ledger whole`, async () => {
      const payments = Array.from({ length: 250 }, (_, i) =>
        sim.store.createCheckoutPayment({
          created: now() - 5 * DAY + i * 600,
          clientReferenceId: String((i % 5) + 1),
          amount: 1000,
        }),
      );
      sim.setFaults({ latencyMs: 300 });
      const child = start(process.execPath, [BIN, ...args('--json')], { cwd: tmp.dir, env, timeoutMs: 40_000 });
      await midRun();
      child.kill(signal);
      const r = await child.result;
      expect(r.code, r.stderr).toBe(code);
      expect(r.stderr.split('\n')[0]).toMatch(
        new RegExp(`^stripe-credits: stopped by ${signal}: nothing is left half-written or locked`),
      );
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(JSON.parse(r.stdout)).toEqual({
        error: { exitCode: code, message: expect.stringMatching(/^stopped by/) },
      });

      const runs = JSON.parse((await runCli(['runs', '--db', app.url, '--json'], { cwd: tmp.dir })).stdout);
      expect(runs.runs).toEqual([
        expect.objectContaining({ status: 'interrupted', error: expect.stringMatching(/stopped by/) }),
      ]);
      expect(await app.query('SELECT * FROM stripe_credits_lock')).toEqual([]);
      // Nothing is written before all of Stripe is read: the ledger is as it was.
      expect(await app.query('SELECT * FROM credit_ledger')).toEqual([]);

      sim.setFaults({ latencyMs: 0 });
      const next = await runCli(args('--json'), { cwd: tmp.dir, env });
      expect(next.code, next.stderr).toBe(0);
      expect(JSON.parse(next.stdout).counts.credited).toBe(250);
      const rows = await app.query<{ payment_key: string }>(
        "SELECT payment_key FROM credit_ledger WHERE kind = 'purchase'",
      );
      expect(new Set(rows.map((x) => x.payment_key))).toEqual(new Set(payments.map((p) => p.paymentIntent!.id)));
      expect(rows).toHaveLength(250);
    }, 60_000);
  }

  if (engine === 'sqlite')
    it('SIGTERM mid-baseline: exit 143, the lock free, a rerun finishes it', async () => {
      for (let i = 0; i < 250; i++)
        sim.store.createCheckoutPayment({
          created: now() - 5 * DAY + i * 600,
          clientReferenceId: String((i % 5) + 1),
          amount: 1000,
        });
      sim.setFaults({ latencyMs: 300 });
      const baseline = (...more: string[]) => [
        'baseline',
        '--db',
        app.url,
        '--config',
        'config.json',
        '--until',
        String(now() - 60),
        ...more,
      ];
      const child = start(process.execPath, [BIN, ...baseline()], { cwd: tmp.dir, env, timeoutMs: 40_000 });
      for (
        let i = 0;
        i < 400 &&
        (await app.query<{ n: number }>('SELECT count(*) AS n FROM stripe_credits_lock').catch(() => [{ n: 0 }]))[0]!
          .n === 0;
        i++
      ) {
        await new Promise((r) => setTimeout(r, 50));
      }
      child.kill('SIGTERM');
      const r = await child.result;
      expect(r.code, r.stderr).toBe(143);
      expect(r.stderr.split('\n')[0]).toMatch(/^stripe-credits: stopped by SIGTERM/);
      expect(await app.query('SELECT * FROM stripe_credits_lock')).toEqual([]);

      sim.setFaults({ latencyMs: 0 });
      const next = await runCli(baseline(), { cwd: tmp.dir, env });
      expect(next.code, next.stderr).toBe(0);
      expect(await app.query('SELECT count(*) AS n FROM stripe_credits_baseline')).toEqual([{ n: 250 }]);
    }, 60_000);
});
