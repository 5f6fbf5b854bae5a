import { runDoctor, type DoctorReport, type Level } from '../../app/doctor/index.js';
import { resolveSettings } from '../../config.js';
import type { CommonFlags, CommandContext } from '../context.js';

const MARK: Record<Level, string> = { ok: '✓', warn: '!', fail: '✗' };

/** One line per finding (✓ ok, ! warning, ✗ problem), the fix indented below, and a summary line. */
export function renderDoctor(r: DoctorReport): string {
  const width = Math.max(...r.findings.map((x) => x.check.length));
  const lines: string[] = [];
  for (const x of r.findings) {
    lines.push(`${MARK[x.level]} ${x.check.padEnd(width)}  ${x.message}`);
    if (x.fix) lines.push(`  ${' '.repeat(width)}  fix: ${x.fix}`);
  }
  const problems = r.findings.filter((x) => x.level === 'fail').length;
  const warnings = r.findings.filter((x) => x.level === 'warn').length;
  const w = warnings ? `${warnings} warning${warnings === 1 ? '' : 's'}` : '';
  lines.push('');
  if (r.exitCode === 1)
    lines.push(
      `doctor could not make every check (see ✗ above)${problems ? `; ${problems} problem${problems === 1 ? '' : 's'} in all` : ''}${w ? `, ${w}` : ''}`,
    );
  else if (problems) lines.push(`${problems} problem${problems === 1 ? '' : 's'} to fix${w ? `, ${w}` : ''}`);
  else lines.push(`everything needed is in place${w ? ` (${w})` : ''}`);
  return `${lines.join('\n')}\n`;
}

/** `doctor`: checks config, database and key; says what to fix. Exit 0 when nothing needed is missing, 2 when something is, 1 when a check could not be made. */
export async function doctorCommand(ctx: CommandContext, flags: CommonFlags): Promise<number> {
  const settings = resolveSettings(flags, ctx.env, ctx.cwd);
  const report = await runDoctor({ settings, cwd: ctx.cwd, env: ctx.env });
  if (flags.json) ctx.io.stdout.write(`${JSON.stringify({ ok: report.ok, findings: report.findings }, null, 2)}\n`);
  else ctx.io.stdout.write(renderDoctor(report));
  return report.exitCode;
}
