import type { Command } from 'commander';
import type { CommonFlags, Registrar } from '../context.js';

/**
 * The support console's commands: `serve` runs it; `console user …` manages who may sign in.
 * Each implementation is loaded only when its command runs.
 */
export function registerConsoleCommands(r: Registrar): void {
  registerServe(r);
  registerConsoleUsers(r);
}

function registerServe({ program, ctx, setResult, common }: Registrar): void {
  common(
    program
      .command('serve')
      .description(
        'run the support console in the browser (review, lookup, assign) over the same database and key as the CLI; sign-in required (accounts: stripe-credits console user add)',
      ),
    { stripe: true, writes: false },
  )
    .option('--host <address>', 'address to listen on (default 127.0.0.1)')
    .option('--port <n>', 'port to listen on (default 8787; 0 picks a free one)')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM), with --tls-key')
    .option('--tls-key <file>', 'the private key (PEM) of --tls-cert')
    .option('--behind-proxy', 'a TLS-terminating proxy is in front: Secure cookies; its X-Forwarded-For is the client')
    .option(
      '--trusted-proxy <address>',
      "with --behind-proxy: the proxy's address or network (ADDR/BITS; repeat or comma-separate; default 127.0.0.1 and ::1); forwarded headers from anyone else are ignored",
      (v: string, all: string[] = []) => [...all, v],
    )
    .addHelpText(
      'after',
      `
A non-loopback --host needs --tls-cert/--tls-key or --behind-proxy. One line per request on stderr.
Exit codes: 0 stopped by Ctrl-C or SIGTERM; 2 bad option or configuration.`,
    )
    .action(async (flags: CommonFlags) => setResult(await (await import('./serve.js')).serveCommand(ctx, flags)));
}

function registerConsoleUsers({ program, ctx, setResult, common }: Registrar): void {
  const user = program
    .command('console')
    .description('the support console (see serve): its accounts')
    .command('user')
    .description('accounts that may sign in to the console: add, list, remove, unlock');
  const impl = () => import('./console-users.js');
  common(user.command('add <name>').description('a new account; the password is asked for, or read from stdin'), READ)
    .requiredOption('--role <role>', 'viewer (reads), support (also assigns), admin (everything)')
    .action(async (name: string, _f: unknown, cmd: Command) =>
      setResult(await (await impl()).consoleUserAdd(ctx, name, cmd.optsWithGlobals())),
    );
  common(user.command('list').description('the accounts, their roles and locks'), READ).action(
    async (_f: unknown, cmd: Command) => setResult(await (await impl()).consoleUserList(ctx, cmd.optsWithGlobals())),
  );
  common(user.command('remove <name>').description('delete an account and end its sessions'), READ).action(
    async (name: string, _f: unknown, cmd: Command) =>
      setResult(await (await impl()).consoleUserRemove(ctx, name, cmd.optsWithGlobals())),
  );
  common(user.command('unlock <name>').description('lift the lock left by wrong passwords'), READ).action(
    async (name: string, _f: unknown, cmd: Command) =>
      setResult(await (await impl()).consoleUserUnlock(ctx, name, cmd.optsWithGlobals())),
  );
}

const READ = { stripe: false, writes: false };
