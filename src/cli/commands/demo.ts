import { randomBytes } from 'node:crypto';
import { relative, resolve } from 'node:path';
import { addConsoleUser } from '../../app/console-accounts.js';
import type { Settings } from '../../config.js';
import { startConsole } from '../../console/server.js';
import { DEMO_KEY, loadDemoData, runDemo, startDemoStripe, type StripeSimulator } from '../../app/demo.js';
import { UsageError } from '../../errors.js';
import {
  renderAttention,
  renderReconcile,
  renderReversals,
  summaryLine,
  writeReconcileJson,
  type Io,
} from '../output.js';
import type { CommandContext } from '../context.js';
import { stopOnSignals } from '../signals.js';
import { renderAudit } from './audit.js';

export async function demoCommand(
  ctx: CommandContext,
  flags: { json?: boolean; keep?: boolean; serve?: boolean },
): Promise<number> {
  const out = ctx.io.stdout;
  if (!flags.json) {
    out.write(
      'stripe-credits demo: a local Stripe simulator on 127.0.0.1 with sample payments, and a fresh data/demo.db\n',
    );
    out.write('whose users table has only id, email and name. No Stripe account, no network.\n\n');
  }
  const result = await runDemo({
    cwd: ctx.cwd,
    actor: ctx.defaultActor,
    keep: flags.keep === true || flags.serve === true,
    onReport: (title, r) => {
      if (flags.json) return;
      out.write(`== ${title}\n`);
      // The same run again, and the run after the refund and dispute: what changed, not every payment again.
      if (title.startsWith('3.')) out.write(`${summaryLine(r)}\n\n`);
      else if (title.startsWith('4.')) out.write(`${renderReversals(r.reversals)}${summaryLine(r)}\n\n`);
      else out.write(`${renderReconcile(r)}\n`);
    },
    onAudit: (title, r) => {
      if (flags.json) return;
      out.write(`== ${title}\n${renderAudit(r)}\n`);
    },
  });
  if (flags.json) {
    await writeReconcileJson(out, result.apply);
  } else {
    out.write('== What a person should look at\n');
    out.write(renderAttention(result.apply.decisions));
    out.write('\n== Balances the app now reads (SELECT SUM(credits) FROM credit_ledger WHERE user_id = ?)\n');
    for (const b of result.balances)
      out.write(
        `  user ${b.userId.padEnd(3)} ${(b.email ?? '').padEnd(22)} ${String(b.balance).padStart(6)} credits\n`,
      );
    out.write(`\nThe database is ${relative(ctx.cwd, result.dbPath)}; run the demo again to start over.\n`);
  }
  if (flags.serve && result.simulator) await serveDemoConsole(ctx, result.simulator, result.settings);
  else if (result.simulator) await serveUntilStopped(ctx.io, result.simulator, relative(ctx.cwd, result.dbPath));
  return 0;
}

/** `demo --serve`: the console on the demo's database and simulator, with an admin account made for it. */
async function serveDemoConsole(ctx: CommandContext, sim: StripeSimulator, settings: Settings): Promise<void> {
  const password = randomBytes(9).toString('base64url');
  await addConsoleUser({ settings, cwd: ctx.cwd, name: 'demo', role: 'admin', password });
  const running = await startConsole({
    support: { settings, cwd: ctx.cwd },
    host: '127.0.0.1',
    port: 0,
    tls: null,
    behindProxy: false,
    log: (line) => ctx.io.stderr.write(`${line}\n`),
  });
  ctx.io.stdout.write(
    `\nThe support console is running on ${running.url} (Ctrl-C stops it).\n` +
      `  Sign in as: demo   password: ${password}   (an admin account made for this demo only)\n`,
  );
  const stop = stopOnSignals();
  try {
    await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
    await running.close();
    await sim.close();
  } finally {
    stop.dispose();
  }
}

/** `stripe-credits simulator`: the demo's Stripe objects (or a file of the same shape) served until a signal. */
export async function simulatorCommand(ctx: CommandContext, flags: { data?: string; port?: string }): Promise<number> {
  const port = flags.port === undefined ? 0 : Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port: not a port number: ${flags.port}`);
  const data = readData(flags.data === undefined ? undefined : resolve(ctx.cwd, flags.data));
  const sim = await startDemoStripe(data, Math.floor(Date.now() / 1000), port);
  await serveUntilStopped(ctx.io, sim, null);
  return 0;
}

/** The demo's data file, or one of the same shape (times as `hoursAgo`): bad files are usage errors. */
function readData(path: string | undefined): ReturnType<typeof loadDemoData> {
  let data: ReturnType<typeof loadDemoData>;
  try {
    data = loadDemoData(path);
  } catch (e) {
    throw new UsageError(`--data: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!Array.isArray(data?.checkoutPayments) || !Array.isArray(data?.paymentIntents)) {
    throw new UsageError(
      `--data: ${path} is not in the shape of data/demo-payments.json (checkoutPayments and paymentIntents, each with hoursAgo)`,
    );
  }
  return data;
}

/** Prints how to point the CLI at the simulator, then serves until SIGINT or SIGTERM. */
async function serveUntilStopped(io: Io, sim: StripeSimulator, db: string | null): Promise<void> {
  io.stderr.write(
    `\nThe Stripe simulator is running on ${sim.url} (Ctrl-C stops it). In another terminal:\n` +
      `  export STRIPE_API_KEY=${DEMO_KEY} STRIPE_API_BASE=${sim.url}${db ? ` DATABASE_URL=${db}` : ''}\n` +
      `  stripe-credits review\n  stripe-credits lookup PAYMENT\n`,
  );
  const stop = stopOnSignals();
  try {
    await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
    await sim.close();
  } finally {
    stop.dispose();
  }
}
