/**
 * STRIPE_CREDITS_TEST_KILL_AT=NAME: the process kills itself with SIGKILL at the point of that name,
 * so a test can show that a rerun after `kill -9` exactly there writes nothing twice and loses
 * nothing. Off unless set; read from the process's own environment, like STRIPE_CREDITS_DEBUG_MEMORY,
 * so only a CLI run as a child process of its own can be stopped by it.
 */
const killAt = process.env.STRIPE_CREDITS_TEST_KILL_AT;

type KillPoint = 'reversals-before-commit' | 'reversals-after-commit';

export function killPoint(name: KillPoint): void {
  if (killAt === name) process.kill(process.pid, 'SIGKILL');
}
