/**
 * npm run bench: reconcile against the simulator (in its own process) side by side with a plain
 * sequential script, on the same data, each in its own child process; then deciding and writing
 * alone (no HTTP); then peak memory on a large account. Prints figures, asserts nothing.
 *
 *   npm run bench -- [--sessions 10000] [--latency-ms 300] [--decide 200000] [--memory 200000] [--quick] [--only 1,2,3]
 *                    [--shapes even,middle-half,one-day,daily-cycle,growth]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/config.js';
import { migrateToLatest, openDatabase, parseDbUrl } from '../src/ledger/db.js';
import { startRun } from '../src/ledger/ledger.js';
import { Planner, TRANSACTION_BATCH, writePlan } from '../src/app/plan-writer.js';
import type { Payment } from '../src/reconcile/types.js';
import { writeAppDb, writeFixture } from './fixture.js';
import { SHAPES } from './shapes.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const KEY = 'sk_live_bench_simulator';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '10000' },
    'latency-ms': { type: 'string', default: '300' },
    /** The simulator's limits: requests a second in all, and per endpoint (Stripe's live limits by default). */
    'rate-limit': { type: 'string', default: '100' },
    'endpoint-rate-limit': { type: 'string', default: '25' },
    decide: { type: 'string', default: '200000' },
    memory: { type: 'string', default: '200000' },
    quick: { type: 'boolean', default: false },
    /** Which sections to run (1 throughput, 2 deciding and writing, 3 memory): to measure one change at a time. */
    only: { type: 'string', default: '1,2,3' },
    /** Section 1's shapes of account (bench/shapes.ts), comma-separated: all by default. */
    shapes: { type: 'string', default: SHAPES.map((s) => s.shape).join(',') },
    /** Section 2's payment ids: random like Stripe's (every index insert lands on a random page), or sequential. */
    ids: { type: 'string', default: 'random' },
  },
});
const quick = values.quick;
const SESSIONS = quick ? 2000 : Number(values.sessions);
const LATENCY = Number(values['latency-ms']);
const STRIPE_GLOBAL = Number(values['rate-limit']);
const STRIPE_PER_ENDPOINT = Number(values['endpoint-rate-limit']);
/** Stripe's live limits: the tool runs on its defaults for them (95 and 24 a second). */
const LIVE_LIMITS = STRIPE_GLOBAL === 100 && STRIPE_PER_ENDPOINT === 25;
for (const [name, v] of [
  ['--latency-ms', LATENCY],
  ['--rate-limit', STRIPE_GLOBAL],
  ['--endpoint-rate-limit', STRIPE_PER_ENDPOINT],
] as const) {
  if (!Number.isFinite(v) || v < (name === '--latency-ms' ? 0 : 1)) {
    console.error(`bench: ${name} must be a number${name === '--latency-ms' ? '' : ' of at least 1'}`);
    process.exit(2);
  }
}
const DECIDE = quick ? 20000 : Number(values.decide);
const MEMORY = quick ? 20000 : Number(values.memory);
const USERS = 1000;
const ONLY = new Set(values.only.split(',').map((x) => x.trim()));
const SHAPE_LIST = new Set(values.shapes.split(',').map((x) => x.trim()));
if (![...SHAPE_LIST].every((x) => SHAPES.some((s) => s.shape === x))) {
  console.error(`bench: --shapes takes some of ${SHAPES.map((s) => s.shape).join(', ')}`);
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'stripe-credits-bench-'));
const now = Math.floor(Date.now() / 1000);
const until = now;
const since = now - 5 * 86400 - 3600;

interface Sim {
  url: string;
  proc: ChildProcess;
}

function startSim(args: string[]): Promise<Sim> {
  return new Promise((resolvePromise, reject) => {
    const proc = spawn(
      process.execPath,
      [
        '--max-old-space-size=8192',
        join(ROOT, 'dist/simulator/main.js'),
        '--port',
        '0',
        '--key',
        KEY,
        '--livemode',
        ...args,
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /listening (\S+)/.exec(out);
      if (m) resolvePromise({ url: m[1]!, proc });
    });
    proc.on('exit', (code) => reject(new Error(`simulator exited (${code}) before listening`)));
  });
}

function stopSim(sim: Sim): Promise<void> {
  return new Promise((r) => {
    sim.proc.removeAllListeners('exit');
    sim.proc.on('exit', () => r());
    sim.proc.kill('SIGTERM');
  });
}

interface SimStats {
  requests: number;
  rejected: number;
  byEndpoint: Record<string, number>;
  /** With `timeline`: each request's arrival (ms since the epoch) and endpoint. */
  timeline?: [number, string][];
}

async function simStats(sim: Sim, timeline = false): Promise<SimStats> {
  const res = await fetch(`${sim.url}/_simulator/stats?reset=1${timeline ? '&timeline=1' : ''}`);
  return (await res.json()) as SimStats;
}

interface Measured {
  wallMs: number;
  /** When the process was started (ms since the epoch: the simulator's clock, on this machine too). */
  startedAt: number;
  peakRssMb: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command, polling /proc for its peak resident set (VmHWM) while it runs. */
function measure(args: string[], env: Record<string, string>): Promise<Measured> {
  return new Promise((resolvePromise) => {
    const started = performance.now();
    const startedAt = Date.now();
    const child = spawn(process.execPath, args, {
      cwd: work,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let peakKb = 0;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch {
        /* gone */
      }
    }, 20);
    child.on('close', (code) => {
      clearInterval(poll);
      resolvePromise({
        wallMs: performance.now() - started,
        startedAt,
        peakRssMb: peakKb / 1024,
        code,
        stdout,
        stderr,
      });
    });
  });
}

const fmt = (n: number, d = 1) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const pad = (s: string, n: number) => s.padStart(n);

/** The tool's configuration for limits other than Stripe's: just below them, as its defaults are below Stripe's. */
function rateConfig(): { args: string[]; note: string } {
  if (LIVE_LIMITS) return { args: [], note: "Stripe's live limits; the tool on its defaults" };
  const rates = {
    maxRequestsPerSecond: Math.max(1, Math.floor(STRIPE_GLOBAL * 0.95)),
    maxRequestsPerSecondPerEndpoint: Math.max(1, STRIPE_PER_ENDPOINT - 1),
  };
  const config = join(work, 'rates.json');
  writeFileSync(config, JSON.stringify({ stripe: rates }));
  return {
    args: ['--config', config],
    note: `the tool configured at ${rates.maxRequestsPerSecond}/s and ${rates.maxRequestsPerSecondPerEndpoint}/s per endpoint`,
  };
}

const sectionOneSim = (fixture: string) =>
  startSim([
    '--fixture',
    fixture,
    '--latency-ms',
    String(LATENCY),
    '--rate-limit',
    String(STRIPE_GLOBAL),
    '--endpoint-rate-limit',
    String(STRIPE_PER_ENDPOINT),
  ]);

interface Ran {
  m: Measured;
  stats: SimStats;
  credited: number;
  /** The audit line (reconcile's first shape only). */
  audit?: string;
}

/** The sequential loop over one shape's account, on a simulator of its own. */
async function sequentialOn(fixture: string, appDb: string, name: string): Promise<Ran> {
  const sim = await sectionOneSim(fixture);
  try {
    const db = join(work, `sequential-${name}.db`);
    copyFileSync(appDb, db);
    await simStats(sim);
    const m = await measure([join(ROOT, 'dist-bench/bench/sequential.js'), sim.url, db, String(since), String(until)], {
      STRIPE_API_KEY: KEY,
      STRIPE_API_BASE: sim.url,
    });
    const stats = await simStats(sim);
    if (m.code !== 0) throw new Error(`sequential loop failed: ${m.stderr}`);
    return { m, stats, credited: (JSON.parse(m.stdout) as { credited: number }).credited };
  } finally {
    await stopSim(sim);
  }
}

/** `stripe-credits reconcile` over one shape's account; with `audit`, then an audit of the ledger it wrote. */
async function reconcileOn(
  fixture: string,
  appDb: string,
  name: string,
  configArgs: string[],
  audit: boolean,
): Promise<Ran> {
  const sim = await sectionOneSim(fixture);
  try {
    const env = { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url };
    const db = join(work, `ours-${name}.db`);
    copyFileSync(appDb, db);
    await simStats(sim);
    const window = ['--since', String(since), '--until', String(until)];
    const m = await measure(
      [join(ROOT, 'bin/stripe-credits.js'), 'reconcile', '--db', db, ...configArgs, ...window, '--yes', '--json'],
      env,
    );
    const stats = await simStats(sim, true);
    if (m.code !== 0) throw new Error(`reconcile failed (${m.code}): ${m.stderr}`);
    const report = JSON.parse(m.stdout) as { counts: { credited: number } };
    const ran: Ran = { m, stats, credited: report.counts.credited };
    if (audit) ran.audit = await auditBeside(db, configArgs, env, sim, stats.requests, name);
    return ran;
  } finally {
    await stopSim(sim);
  }
}

/**
 * Section 1: for each shape of account (bench/shapes.ts), reconcile and the sequential loop on the
 * same data. The reconcile runs go one after another, with nothing else of the bench running; the
 * sequential loops then run side by side.
 */
async function throughput() {
  const shapes = SHAPES.filter((s) => SHAPE_LIST.has(s.shape));
  const appDb = join(work, 'app.db');
  writeAppDb(appDb, USERS);
  const { args: configArgs, note } = rateConfig();
  const fixtures = shapes.map((s) => {
    const fixture = join(work, `fixture-${s.shape}.json`);
    writeFixture(fixture, { sessions: SESSIONS, until, days: 5, users: USERS, shape: s.shape });
    return fixture;
  });
  console.log(
    `\n1. Throughput: ${fmt(SESSIONS, 0)} Checkout Sessions and their ${fmt(SESSIONS, 0)} PaymentIntents in a 5-day window, by shape`,
  );
  console.log(
    `   simulator in its own process: ${LATENCY} ms a request, ${STRIPE_GLOBAL} requests/s global, ${STRIPE_PER_ENDPOINT}/s per endpoint (${note})`,
  );
  const ours: Ran[] = [];
  for (const [i, s] of shapes.entries())
    ours.push(await reconcileOn(fixtures[i]!, appDb, s.shape, configArgs, i === 0));
  // Then the sequential loops, which wait on one round trip after another: all at once, each on a
  // simulator of its own (with its own limits), once reconcile's runs are over.
  const sequential = shapes.map((s, i) => sequentialOn(fixtures[i]!, appDb, s.shape));
  printShapes(shapes, ours, await Promise.all(sequential));
  if (ours[0]?.audit) console.log(ours[0].audit);
}

/** One line per shape: wall times, the floor, requests against the fewest there can be. */
function printShapes(shapes: readonly { title: string }[], ours: Ran[], seq: Ran[]) {
  // The floor: the fewest list requests there can be, at Stripe's limits.
  const sessionPages = Math.ceil(SESSIONS / 100);
  const intentPages = Math.ceil(SESSIONS / 100);
  const floorS = Math.max(
    (sessionPages + intentPages) / STRIPE_GLOBAL,
    sessionPages / STRIPE_PER_ENDPOINT,
    intentPages / STRIPE_PER_ENDPOINT,
  );
  // Reconcile also lists the window's refunds and disputes: one page each here.
  const minimum = sessionPages + intentPages + 2;
  console.log(
    `   floor: ${fmt(floorS)} s = max(${sessionPages + intentPages} list pages / ${STRIPE_GLOBAL}/s, ${sessionPages} session pages / ${STRIPE_PER_ENDPOINT}/s, ${intentPages} PaymentIntent pages / ${STRIPE_PER_ENDPOINT}/s)`,
  );
  console.log(
    `   fewest requests: ${minimum} = ${sessionPages} session pages + ${intentPages} PaymentIntent pages + 1 page of refunds + 1 of disputes`,
  );
  console.log(
    `   targets: reconcile within ${SESSIONS >= 50000 ? '1.25' : '1.5'}x the floor (1.25x at 50,000 sessions, 1.5x at 10,000), requests within 1.1x the fewest\n`,
  );
  console.log(
    `   ${'shape'.padEnd(28)}${pad('sequential', 11)}${pad('reconcile', 11)}${pad('/floor', 8)}${pad('speed-up', 10)}${pad('requests', 10)}${pad('/fewest', 9)}${pad('sessions+PIs', 14)}${pad('429s', 6)}${pad('credited', 13)}${pad('peak RSS', 10)}`,
  );
  for (const [i, s] of shapes.entries()) {
    const o = ours[i]!;
    const q = seq[i]!;
    const lists = `${o.stats.byEndpoint['GET /v1/checkout/sessions'] ?? 0}+${o.stats.byEndpoint['GET /v1/payment_intents'] ?? 0}`;
    console.log(
      `   ${s.title.padEnd(28)}${pad(`${fmt(q.m.wallMs / 1000)} s`, 11)}${pad(`${fmt(o.m.wallMs / 1000)} s`, 11)}${pad(`${fmt(o.m.wallMs / 1000 / floorS, 2)}x`, 8)}${pad(`${fmt(q.m.wallMs / o.m.wallMs)}x`, 10)}${pad(String(o.stats.requests), 10)}${pad(`${fmt(o.stats.requests / minimum, 2)}x`, 9)}${pad(lists, 14)}${pad(String(o.stats.rejected + q.stats.rejected), 6)}${pad(`${o.credited}/${q.credited}`, 13)}${pad(`${fmt(o.m.peakRssMb, 0)} MB`, 10)}`,
    );
  }
  console.log(
    `\n   sequential: the loop's wall (${seq.map((q) => q.stats.requests).join(', ')} requests); credited: reconcile/sequential; 429s: both; peak RSS: reconcile's`,
  );
  console.log(`   where reconcile's wall went, by when its requests reached the simulator:`);
  for (const [i, s] of shapes.entries()) console.log(`   ${s.title.padEnd(28)}${wallParts(ours[i]!, floorS)}`);
}

/**
 * A run's wall in three parts: start-up (the process started to its first request), the lists
 * (first request to last; the floor's part), and the end (the last request to the exit: its answer,
 * deciding what is left and writing the ledger).
 */
function wallParts(o: Ran, floorS: number): string {
  const times = (o.stats.timeline ?? []).map(([at]) => at);
  if (times.length === 0) return 'no requests';
  const first = (Math.min(...times) - o.m.startedAt) / 1000;
  const last = (Math.max(...times) - o.m.startedAt) / 1000;
  const wall = o.m.wallMs / 1000;
  return `start-up ${fmt(first, 2)} s, requests ${fmt(last - first, 2)} s (${fmt((last - first) / floorS, 2)}x the floor), end ${fmt(wall - last, 2)} s`;
}

/**
 * `audit` of the ledger reconcile just wrote (its default window: the entries of the last 30 days),
 * its requests beside reconcile's for the same payments: about one sweep, so at most about 1.2x.
 */
async function auditBeside(
  db: string,
  configArgs: string[],
  env: Record<string, string>,
  sim: Sim,
  reconciled: number,
  shape: string,
): Promise<string> {
  const m = await measure([join(ROOT, 'bin/stripe-credits.js'), 'audit', '--db', db, ...configArgs, '--json'], env);
  const st = await simStats(sim);
  if (m.code !== 0 && m.code !== 3) throw new Error(`audit failed (${m.code}): ${m.stderr}`);
  const doc = JSON.parse(m.stdout) as { counts: { entries: number; findings: number } };
  return `   stripe-credits audit of the ledger reconcile wrote (${shape}): ${fmt(m.wallMs / 1000)} s, ${st.requests} requests for ${doc.counts.entries} entries (${doc.counts.findings} findings): ${fmt(st.requests / reconciled, 2)}x reconcile's ${reconciled} (target <= 1.2x)   by endpoint: ${JSON.stringify(st.byEndpoint)}`;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A small seeded PRNG: the same ids on every run. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deciding and writing alone: the very Planner and writePlan reconcile uses, on payments built in memory. */
async function decideAndWrite() {
  const dbPath = join(work, 'decide.db');
  writeAppDb(dbPath, USERS);
  const sequential = values.ids === 'sequential';
  const open = await openDatabase(parseDbUrl(dbPath, work), { readonly: false });
  let decideS: number;
  let writeS: number;
  let decideCpuS: number;
  let writeCpuS: number;
  let creditsWritten: number;
  try {
    await migrateToLatest(open.db);
    const runId = await startRun(open.db, { mode: 'apply', since, until, actor: 'bench' });
    const config = parseConfig({});
    const rnd = mulberry32(42);
    const randomPart = (n: number) => Array.from({ length: n }, () => ALNUM[Math.floor(rnd() * 62)]).join('');
    // The ids are made before the clock starts; the Payment objects are built batch by batch inside
    // it, as reconcile builds them from each page of Stripe objects and drops them once decided (all
    // 200,000 held at once would make the garbage collector, not the tool, the larger cost).
    const intents: string[] = [];
    const sessions: string[] = [];
    for (let i = 0; i < DECIDE; i++) {
      intents.push(sequential ? `pi_bench${String(i).padStart(20, '0')}` : `pi_3${randomPart(24)}`);
      sessions.push(sequential ? `cs_live_bench${String(i).padStart(54, '0')}` : `cs_live_a1${randomPart(58)}`);
    }
    const payment = (i: number): Payment => {
      const id = intents[i]!;
      const created = since + i;
      return {
        paymentKey: id,
        paidAt: created,
        paysInvoice: false,
        session: {
          id: sessions[i]!,
          created,
          mode: 'payment',
          status: 'complete',
          paymentStatus: 'paid',
          paymentIntentId: id,
          clientReferenceId: String((i % USERS) + 1),
          metadata: { credits: String((i % 9) + 1) },
          customerId: null,
          customerDetailsEmail: `user${(i % USERS) + 1}@example.com`,
          customerEmail: null,
          customerName: null,
          amountTotal: 1000,
          currency: 'usd',
          livemode: true,
          lineItems: null,
        },
        paymentIntent: {
          id,
          created,
          status: 'succeeded',
          amount: 1000,
          amountReceived: 1000,
          currency: 'usd',
          customerId: null,
          metadata: {},
          receiptEmail: null,
          livemode: true,
          refunded: false,
          amountRefunded: 0,
        },
      };
    };
    const started = performance.now();
    const startedCpu = process.cpuUsage();
    const planner = new Planner(open.db, config, true, false);
    for (let i = 0; i < DECIDE; i += 1000) {
      const batch: Payment[] = [];
      for (let j = i; j < Math.min(i + 1000, DECIDE); j++) batch.push(payment(j));
      await planner.decide(batch);
    }
    const decidedAt = performance.now();
    decideCpuS = cpuSeconds(process.cpuUsage(startedCpu));
    const decidedCpu = process.cpuUsage();
    creditsWritten = (await writePlan(open.db, planner.plan, { runId, actor: 'bench', adoption: config }))
      .creditsWritten;
    decideS = (decidedAt - started) / 1000;
    writeS = (performance.now() - decidedAt) / 1000;
    writeCpuS = cpuSeconds(process.cpuUsage(decidedCpu));
  } finally {
    await open.close();
  }
  const floor = storageFloor(dbPath, join(work, 'floor.db'));
  console.log(
    `\n2. Deciding and writing alone (no HTTP): ${fmt(DECIDE, 0)} payments, ${sequential ? 'sequential' : 'random (Stripe-like)'} ids, SQLite file`,
  );
  console.log(
    `   decide ${fmt(decideS, 2)} s + write ${fmt(writeS, 2)} s = ${fmt(decideS + writeS, 2)} s: ${fmt(DECIDE / (decideS + writeS), 0)} payments/s (${creditsWritten} credits written)`,
  );
  console.log(
    `   in CPU time: ${fmt(decideCpuS, 2)} s + ${fmt(writeCpuS, 2)} s = ${fmt(decideCpuS + writeCpuS, 2)} s: ${fmt(DECIDE / (decideCpuS + writeCpuS), 0)} payments per CPU second (what a busy machine does not stretch)`,
  );
  printFloor(floor, writeS, writeCpuS, DECIDE);
}

function cpuSeconds(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1e6;
}

function printFloor(floor: { s: number; cpuS: number }, writeS: number, writeCpuS: number, payments: number): void {
  console.log(
    `   SQLite alone, the very rows written, one prepared INSERT each, same order and transactions: ${fmt(floor.s, 2)} s (${fmt(payments / floor.s, 0)} payments/s), ${fmt(floor.cpuS, 2)} s of CPU; the tool's write takes ${fmt(writeS / floor.s, 2)}x that (${fmt(writeCpuS / floor.cpuS, 2)}x in CPU time)`,
  );
}

/**
 * What SQLite itself costs for the writes: the rows the tool wrote (its ledger entries and local
 * records, read back in the order written) inserted into a fresh copy of the same schema by one
 * prepared statement per row, with nothing else, in transactions of the same size. Returns seconds,
 * on the clock and of CPU time.
 */
function storageFloor(written: string, fresh: string, payments = DECIDE): { s: number; cpuS: number } {
  // The same schema, migrations included: a copy of the written file, emptied.
  copyFileSync(written, fresh);
  const src = new SQLite(written, { readonly: true });
  const dst = new SQLite(fresh);
  dst.exec('DELETE FROM credit_ledger; DELETE FROM stripe_credits_payments; VACUUM');
  try {
    const tables = ['credit_ledger', 'stripe_credits_payments'].map((table) => {
      const columns = (src.pragma(`table_info(${table})`) as Array<{ name: string }>).map((c) => `"${c.name}"`);
      return {
        rows: src
          .prepare(`SELECT ${columns.join(', ')} FROM ${table} ORDER BY rowid`)
          .raw()
          .all() as unknown[][],
        insert: dst.prepare(
          `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
        ),
      };
    });
    const started = performance.now();
    const startedCpu = process.cpuUsage();
    for (let i = 0; i < payments; i += TRANSACTION_BATCH) {
      dst.exec('BEGIN IMMEDIATE');
      for (const t of tables) for (const row of t.rows.slice(i, i + TRANSACTION_BATCH)) t.insert.run(row);
      dst.exec('COMMIT');
    }
    return { s: (performance.now() - started) / 1000, cpuS: cpuSeconds(process.cpuUsage(startedCpu)) };
  } finally {
    src.close();
    dst.close();
  }
}

async function memory() {
  console.log(
    `\n3. Memory: ${fmt(MEMORY, 0)} payments reconciled end to end (no latency, no rate limit), SQLite file; the reconcile process alone (the simulator runs in its own)`,
  );
  // The default policy on Checkout payments; then "all" on an account of subscriptions, where
  // every subscription payment is a standalone PaymentIntent and the InvoicePayments are listed too.
  await memoryRun('Checkout payments', { sessions: MEMORY }, {});
  await memoryRun(
    'under "all": subscription payments and a tenth of Checkout payments',
    { sessions: MEMORY / 10, invoicePayments: MEMORY - MEMORY / 10 },
    { match: { standalonePaymentIntents: 'all' } },
  );
}

async function memoryRun(title: string, mix: { sessions: number; invoicePayments?: number }, config: object) {
  const fixture = join(work, 'memory-fixture.json');
  writeFixture(fixture, { ...mix, until, days: 5, users: USERS });
  const dbPath = join(work, 'memory.db');
  rmSync(dbPath, { force: true });
  writeAppDb(dbPath, USERS);
  const configPath = join(work, 'fast.json');
  // Memory, not rate, is measured here: the simulator applies no limits and the tool is let loose.
  writeFileSync(
    configPath,
    JSON.stringify({ ...config, stripe: { maxRequestsPerSecond: 5000, maxRequestsPerSecondPerEndpoint: 5000 } }),
  );
  const sim = await startSim(['--fixture', fixture]);
  rmSync(fixture, { force: true });
  let m: Measured;
  let requests: number;
  try {
    m = await measure(
      [
        join(ROOT, 'bin/stripe-credits.js'),
        'reconcile',
        '--db',
        dbPath,
        '--config',
        configPath,
        '--since',
        String(since),
        '--until',
        String(until),
        '--yes',
        '--quiet',
      ],
      // The tool's own account of the time it spent deciding and writing (interleaved with fetching).
      { STRIPE_API_KEY: KEY, STRIPE_API_BASE: sim.url, STRIPE_CREDITS_DEBUG_MEMORY: '1' },
    );
    requests = (await simStats(sim)).requests;
    if (m.code !== 0) throw new Error(`reconcile failed (${m.code}): ${m.stderr}`);
  } finally {
    await stopSim(sim);
  }
  const payments = mix.sessions + (mix.invoicePayments ?? 0);
  const times = [
    ...m.stderr.matchAll(/deciding ([\d.]+) s, writing ([\d.]+) s so far \(CPU time ([\d.]+) s and ([\d.]+) s\)/g),
  ].at(-1);
  const [decideS, writeS, decideCpuS, writeCpuS] = [1, 2, 3, 4].map((k) => (times ? Number(times[k]) : NaN)) as [
    number,
    number,
    number,
    number,
  ];
  console.log(`   ${title}: ${m.stdout.trim()}`);
  console.log(
    `   peak RSS ${fmt(m.peakRssMb, 0)} MB; wall ${fmt(m.wallMs / 1000)} s (mostly the simulator), ${requests} requests`,
  );
  console.log(
    `   deciding ${fmt(decideS, 2)} s + writing ${fmt(writeS, 2)} s = ${fmt(decideS + writeS, 2)} s: ${fmt(payments / (decideS + writeS), 0)} payments/s (the tool's time in Planner.decide and writePlan)`,
  );
  console.log(
    `   in CPU time: ${fmt(decideCpuS, 2)} s + ${fmt(writeCpuS, 2)} s = ${fmt(decideCpuS + writeCpuS, 2)} s: ${fmt(payments / (decideCpuS + writeCpuS), 0)} payments per CPU second (what a busy machine does not stretch)`,
  );
  printFloor(storageFloor(dbPath, join(work, 'memory-floor.db'), payments), writeS, writeCpuS, payments);
  rmSync(join(work, 'memory-floor.db'), { force: true });
}

try {
  console.log(`stripe-credits bench (Node ${process.version}, ${new Date().toISOString()})`);
  if (ONLY.has('1')) await throughput();
  if (ONLY.has('2')) await decideAndWrite();
  if (ONLY.has('3')) await memory();
} finally {
  rmSync(work, { recursive: true, force: true });
}
