import { audit, resolveFinding, type AuditReport } from '../../app/audit.js';
import { requireText } from '../../app/corrections.js';
import { resolveSettings } from '../../config.js';
import type { AuditFinding } from '../../reconcile/types.js';
import { isoSeconds, parseWhen } from '../../when.js';
import { writeJson } from '../ledger-output.js';
import { progressReporter } from '../output.js';
import { termText } from '../term-text.js';
import type { CommonFlags, CommandContext } from '../context.js';

interface AuditFlags extends CommonFlags {
  since?: string;
  until?: string;
}

interface ResolveFlags extends CommonFlags {
  reason?: string;
  reverse?: boolean;
}

/** `audit`: exit 3 when there are findings, 0 when Stripe backs every entry (SPEC "Exit codes"). */
export async function auditCommand(ctx: CommandContext, flags: AuditFlags): Promise<number> {
  const now = Math.floor(Date.now() / 1000);
  const since = flags.since !== undefined ? parseWhen(flags.since, now, '--since') : undefined;
  const until = flags.until !== undefined ? parseWhen(flags.until, now, '--until') : undefined;
  const settings = resolveSettings(flags, ctx.env, ctx.cwd);
  const progress = progressReporter(ctx.io, flags);
  let report: AuditReport;
  try {
    report = await audit({ settings, cwd: ctx.cwd, since, until, now, progress: progress.update });
  } finally {
    progress.stop();
  }
  if (flags.json)
    writeJson(ctx, {
      window: { since: isoSeconds(report.window.since), until: isoSeconds(report.window.until) },
      counts: report.counts,
      findings: report.findings,
    });
  else ctx.io.stdout.write(renderAudit(report));
  return report.findings.length > 0 ? 3 : 0;
}

/** Credits an entry holds that Stripe does not back for its user. */
function atStake(f: AuditFinding): number {
  return f.expected.userId === f.userId ? f.credits - f.expected.credits : f.credits;
}

/** Findings grouped by code; under each, the credits at stake per user, then the entries. */
export function renderAudit(r: AuditReport): string {
  const { entries, backed, findings } = r.counts;
  const lines = [
    `Audit of ${entries} purchase entries from ${isoSeconds(r.window.since)} to ${isoSeconds(r.window.until)}: ${backed} backed by Stripe, ${findings} findings.`,
  ];
  const byCode = new Map<string, AuditFinding[]>();
  for (const f of r.findings) byCode.set(f.code, [...(byCode.get(f.code) ?? []), f]);
  for (const [code, list] of byCode) {
    const perUser = new Map<string, number>();
    for (const f of list) perUser.set(f.userId, (perUser.get(f.userId) ?? 0) + atStake(f));
    const users = [...perUser].map(([u, c]) => `user ${u}: ${c}`).join(', ');
    lines.push('', `${code} (${list.length}); credits at stake: ${users}`);
    for (const f of list)
      lines.push(`  entry ${f.entryId}  user ${f.userId}  ${f.credits} credits  ${f.paymentRef}: ${f.detail}`);
  }
  if (findings > 0)
    lines.push(
      '',
      'Close each after a look: stripe-credits audit resolve ENTRY --reason TEXT (accept it as it is) or add --reverse (take its credits back).',
    );
  return `${lines.map(termText).join('\n')}\n`;
}

/** `audit resolve ENTRY --reason TEXT [--reverse]`: exit 0 when written; bad input exits 2 with nothing written. */
export async function auditResolveCommand(ctx: CommandContext, entryId: string, flags: ResolveFlags): Promise<number> {
  const reason = requireText(flags.reason, '--reason');
  const actor = requireText(flags.actor ?? ctx.defaultActor, '--actor');
  const settings = resolveSettings(flags, ctx.env, ctx.cwd);
  const r = await resolveFinding({ settings, cwd: ctx.cwd, entryId, reason, actor, reverse: flags.reverse === true });
  const res = r.resolution;
  if (flags.json) writeJson(ctx, { ...res, findings: r.findings.map((f) => f.code) });
  else {
    const what =
      res.outcome === 'reversed'
        ? `reversed: correction entry ${res.correctionId} takes ${res.credits} credits back from user ${res.userId}`
        : `accepted as it is (${res.credits} credits stay with user ${res.userId})`;
    const codes = r.findings.map((f) => f.code).join(', ');
    ctx.io.stdout.write(
      `${termText(`Entry ${res.entryId} (${res.paymentRef}; ${codes}) ${what}, by ${res.actor}: ${res.reason}`)}\n`,
    );
  }
  return 0;
}
