import { baseline } from '../../app/baseline.js';
import { resolveSettings } from '../../config.js';
import { UsageError } from '../../errors.js';
import { isoSeconds, parseWhen } from '../../when.js';
import { progressReporter } from '../output.js';
import { stopOnSignals } from '../signals.js';
import type { CommonFlags, CommandContext } from '../context.js';

export async function baselineCommand(
  ctx: CommandContext,
  flags: CommonFlags & { until?: string; dryRun?: boolean },
): Promise<number> {
  if (flags.until === undefined)
    throw new UsageError('baseline needs --until WHEN: the line up to which payments count as already handled');
  const now = Math.floor(Date.now() / 1000);
  const until = parseWhen(flags.until, now, '--until');
  const settings = resolveSettings(flags, ctx.env, ctx.cwd);
  const progress = progressReporter(ctx.io, flags);
  const stop = stopOnSignals();
  try {
    const r = await baseline({
      settings,
      cwd: ctx.cwd,
      until,
      dryRun: flags.dryRun === true,
      actor: flags.actor ?? ctx.defaultActor,
      now,
      progress: progress.update,
      signal: stop.signal,
    });
    progress.stop();
    if (flags.json) {
      ctx.io.stdout.write(
        `${JSON.stringify({ ...r, until: isoSeconds(r.until), cursor: r.cursor === null ? null : isoSeconds(r.cursor) }, null, 2)}\n`,
      );
      return 0;
    }
    const verb = r.mode === 'dry-run' ? 'would record' : 'recorded';
    ctx.io.stdout.write(
      `Baseline up to ${isoSeconds(r.until)}: ${r.payments} payments; ${verb} ${r.baselined} as already handled (never to be credited by reconcile); ` +
        `${r.alreadyHandled} already credited or baselined; ${r.pending} not settled yet (reconcile credits them when they are).` +
        `${r.mode === 'dry-run' ? ' Dry run: nothing was written.' : ''}\n`,
    );
    if (r.cursor !== null) ctx.io.stdout.write(`reconcile continues from ${isoSeconds(r.cursor)}.\n`);
    return 0;
  } finally {
    stop.dispose();
    progress.stop();
  }
}
