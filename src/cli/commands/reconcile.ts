import { reconcile } from '../../app/reconcile.js';
import { resolveSettings } from '../../config.js';
import { parseWhen } from '../../when.js';
import {
  logLine,
  progressReporter,
  renderAttention,
  renderReconcile,
  summaryLine,
  writeReconcileJson,
} from '../output.js';
import { memoryPhase } from '../../app/debug-memory.js';
import { termText } from '../term-text.js';
import { stopOnSignals } from '../signals.js';
import type { CommonFlags, CommandContext } from '../context.js';

interface ReconcileFlags extends CommonFlags {
  dryRun?: boolean;
  since?: string;
  until?: string;
  yes?: boolean;
}

export async function reconcileCommand(ctx: CommandContext, flags: ReconcileFlags): Promise<number> {
  const now = Math.floor(Date.now() / 1000);
  const since = flags.since !== undefined ? parseWhen(flags.since, now, '--since') : undefined;
  const until = flags.until !== undefined ? parseWhen(flags.until, now, '--until') : undefined;
  const settings = resolveSettings(flags, ctx.env, ctx.cwd);
  const progress = progressReporter(ctx.io, flags);
  const stop = stopOnSignals();
  try {
    const report = await reconcile({
      settings,
      cwd: ctx.cwd,
      dryRun: flags.dryRun === true,
      since,
      until,
      yes: flags.yes === true,
      actor: flags.actor ?? ctx.defaultActor,
      now,
      progress: progress.update,
      onRequest: flags.verbose ? (line) => ctx.io.stderr.write(logLine(line)) : undefined,
      warn: (message) => ctx.io.stderr.write(logLine(`stripe-credits: warning: ${message}`)),
      signal: stop.signal,
    });
    progress.stop();
    if (flags.json) {
      await writeReconcileJson(ctx.io.stdout, report);
      memoryPhase('reported');
      return report.exitCode;
    }
    for (const note of report.notes) ctx.io.stderr.write(logLine(`stripe-credits: note: ${termText(note)}`));
    if (flags.quiet) {
      ctx.io.stdout.write(`${summaryLine(report)}\n`);
    } else {
      ctx.io.stdout.write(renderReconcile(report));
      if (report.counts.needsReview > 0) ctx.io.stdout.write(renderAttention(report.decisions));
    }
    memoryPhase('reported');
    return report.exitCode;
  } finally {
    stop.dispose();
    progress.stop();
  }
}
