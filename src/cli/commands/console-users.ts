import {
  addConsoleUser,
  listConsoleUsers,
  parseRole,
  removeConsoleUser,
  unlockConsoleUser,
} from '../../app/console-accounts.js';
import { resolveSettings } from '../../config.js';
import { UsageError } from '../../errors.js';
import type { CommonFlags, CommandContext } from '../context.js';
import { table, writeJson } from '../ledger-output.js';
import type { Io } from '../output.js';
import { termText } from '../term-text.js';

/**
 * Reads one line from a terminal without echoing it (raw mode: the characters are never printed).
 * Enter or Ctrl-D ends it, Ctrl-C cancels; other control characters (arrows, Escape) are dropped,
 * not made part of the password.
 */
export function readHidden(io: Io, prompt: string): Promise<string> {
  const stdin = io.stdin!;
  io.stderr.write(prompt);
  stdin.setRawMode?.(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (f: () => void) => {
      stdin.setRawMode?.(false);
      stdin.pause();
      stdin.off('data', onData);
      io.stderr.write('\n');
      f();
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString()) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done(() => resolve(text));
        if (ch === '\u0003') return done(() => reject(new UsageError('cancelled: no account added')));
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else if (!/\p{Cc}/u.test(ch)) text += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** The first line of stdin, for scripts: `printf '%s\n' "$PW" | stripe-credits console user add …`. */
async function readLine(io: Io): Promise<string> {
  let text = '';
  for await (const chunk of io.stdin!) {
    text += chunk.toString();
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}

async function readPassword(io: Io, name: string): Promise<string> {
  if (!io.stdin) throw new UsageError('no password: give it on stdin');
  if (!io.stdin.isTTY) return readLine(io);
  const first = await readHidden(io, `Password for ${name}: `);
  const again = await readHidden(io, 'Again: ');
  if (first !== again) throw new UsageError('the two passwords differ: no account added');
  return first;
}

export async function consoleUserAdd(
  ctx: CommandContext,
  name: string,
  flags: CommonFlags & { role?: string },
): Promise<number> {
  const role = parseRole(flags.role);
  const settings = resolveSettings(flags, ctx.env, ctx.cwd);
  const password = await readPassword(ctx.io, name);
  const a = await addConsoleUser({ settings, cwd: ctx.cwd, name, role, password });
  if (flags.json) writeJson(ctx, { name: a.name, role: a.role, createdAt: a.createdAt });
  else ctx.io.stdout.write(`${termText(`Added console account ${a.name} (${a.role}).`)}\n`);
  return 0;
}

export async function consoleUserList(ctx: CommandContext, flags: CommonFlags): Promise<number> {
  const settings = resolveSettings(flags, ctx.env, ctx.cwd);
  const accounts = await listConsoleUsers({ settings, cwd: ctx.cwd });
  if (flags.json) writeJson(ctx, { accounts });
  else if (accounts.length === 0)
    ctx.io.stdout.write('No console accounts yet: stripe-credits console user add NAME --role ROLE\n');
  else {
    const t = table(['Name', 'Role', 'Created (UTC)', 'Locked until']);
    for (const a of accounts) t.push([termText(a.name), a.role, a.createdAt, a.lockedUntil ?? '']);
    ctx.io.stdout.write(`${t.toString()}\n`);
  }
  return 0;
}

export async function consoleUserRemove(ctx: CommandContext, name: string, flags: CommonFlags): Promise<number> {
  const settings = resolveSettings(flags, ctx.env, ctx.cwd);
  await removeConsoleUser({ settings, cwd: ctx.cwd, name });
  ctx.io.stdout.write(`${termText(`Removed console account ${name}; its sessions are ended.`)}\n`);
  return 0;
}

export async function consoleUserUnlock(ctx: CommandContext, name: string, flags: CommonFlags): Promise<number> {
  const settings = resolveSettings(flags, ctx.env, ctx.cwd);
  await unlockConsoleUser({ settings, cwd: ctx.cwd, name });
  ctx.io.stdout.write(`${termText(`Unlocked console account ${name}.`)}\n`);
  return 0;
}
