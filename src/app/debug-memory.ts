/**
 * STRIPE_CREDITS_DEBUG_MEMORY=1: prints to stderr, at each phase boundary of a run, the resident
 * set, V8 heap used and external memory now, and the highest resident set sampled (every 50 ms)
 * since the previous boundary: to see which phase sets the peak; and the time spent so far deciding
 * and writing, on the clock and in CPU time (the bench's figures for them in a run end to end,
 * where they are interleaved with fetching; CPU time is what a busy machine does not stretch). Off
 * unless the variable is set.
 */
const enabled = !!process.env.STRIPE_CREDITS_DEBUG_MEMORY;
let peak = 0;
let timer: NodeJS.Timeout | null = null;
/** Milliseconds spent in each timed step, summed over the run: wall clock, and this process's CPU time. */
const spent = { deciding: 0, writing: 0 };
const cpu = { deciding: 0, writing: 0 };
const mb = (n: number) => `${(n / 1048576).toFixed(0)} MB`;

/** Runs a step, its time added to the step's total (only when enabled). */
export async function timed<T>(step: keyof typeof spent, run: () => Promise<T>): Promise<T> {
  if (!enabled) return run();
  const started = performance.now();
  const startedCpu = process.cpuUsage();
  try {
    return await run();
  } finally {
    spent[step] += performance.now() - started;
    const used = process.cpuUsage(startedCpu);
    cpu[step] += (used.user + used.system) / 1000;
  }
}

export function memoryPhase(name: string): void {
  if (!enabled) return;
  if (timer === null) {
    timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 50);
    timer.unref();
  }
  const m = process.memoryUsage();
  peak = Math.max(peak, m.rss);
  process.stderr.write(
    `memory: ${name} at +${(performance.now() / 1000).toFixed(2)} s: rss ${mb(m.rss)} (peak since last ${mb(peak)}), heap used ${mb(m.heapUsed)} of ${mb(m.heapTotal)}, external ${mb(m.external)}, array buffers ${mb(m.arrayBuffers)}; deciding ${(spent.deciding / 1000).toFixed(2)} s, writing ${(spent.writing / 1000).toFixed(2)} s so far (CPU time ${(cpu.deciding / 1000).toFixed(2)} s and ${(cpu.writing / 1000).toFixed(2)} s)\n`,
  );
  peak = 0;
  // Under --expose-gc: what is live, after a full collection.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    const after = process.memoryUsage();
    process.stderr.write(
      `memory: ${name}: after a full GC: rss ${mb(after.rss)}, heap used ${mb(after.heapUsed)} of ${mb(after.heapTotal)}\n`,
    );
  }
}
