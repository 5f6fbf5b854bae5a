/**
 * How payments are spread over a window, for the bench and the tests of the window sweep: real
 * accounts are never even (a launch day, a sale, a daily cycle, growth over the month).
 */
export type Shape = 'even' | 'middle-half' | 'one-day' | 'daily-cycle' | 'growth';

export const SHAPES: readonly { shape: Shape; title: string }[] = [
  { shape: 'even', title: 'even' },
  { shape: 'middle-half', title: 'all in the middle half' },
  { shape: 'one-day', title: '80% in one day' },
  { shape: 'daily-cycle', title: 'daily cycle (10x at peak)' },
  { shape: 'growth', title: 'growth (10x at the end)' },
];

const HOUR = 3600;

/** The relative weight of hour `h` of `hours` (the hour's middle at `x`, from 0 to 1 over the window). */
function weight(shape: Shape, h: number, hours: number): number {
  const x = (h + 0.5) / hours;
  switch (shape) {
    case 'even':
      return 1;
    case 'middle-half':
      return x >= 0.25 && x < 0.75 ? 1 : 0;
    case 'one-day': {
      // 80% in the window's middle day, the rest spread over the whole window.
      const day = Math.floor(hours / 24 / 2);
      return 0.2 / hours + (Math.floor(h / 24) === day ? 0.8 / 24 : 0);
    }
    case 'daily-cycle':
      // Quietest at hour 0 of each day (1), busiest at hour 12 (10).
      return 1 + 4.5 * (1 - Math.cos((2 * Math.PI * (h % 24)) / 24));
    case 'growth':
      return 1 + 9 * x;
  }
}

/**
 * `n` times (whole seconds) in `[from, to)` spread by `shape`: hour by hour in proportion to its
 * weight, evenly within an hour; the same times on every call, oldest first.
 */
export function spread(shape: Shape, n: number, from: number, to: number): number[] {
  const hours = Math.ceil((to - from) / HOUR);
  const weights = Array.from(
    { length: hours },
    (_, h) => weight(shape, h, hours) * (Math.min(to, from + (h + 1) * HOUR) - (from + h * HOUR)),
  );
  const total = weights.reduce((a, b) => a + b, 0);
  const out: number[] = [];
  let h = 0;
  let below = 0;
  for (let i = 0; i < n; i++) {
    const q = ((i + 0.5) / n) * total;
    while (h < hours - 1 && below + weights[h]! <= q) below += weights[h++]!;
    const start = from + h * HOUR;
    const width = Math.min(to, start + HOUR) - start;
    out.push(Math.min(to - 1, start + Math.floor(((q - below) / weights[h]!) * width)));
  }
  return out;
}
