import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../src/stripe/reader.js';

const tick = (ms = 1) => new Promise((r) => setTimeout(r, ms));

describe('WorkQueue', () => {
  it('runs each item once, in the order added, never more than `limit` at a time', async () => {
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const q = new WorkQueue<number>(3, 1000, async (n) => {
      started.push(n);
      running++;
      most = Math.max(most, running);
      await tick(n % 3);
      running--;
    });
    for (let i = 0; i < 50; i++) await q.add(i);
    await q.drain();
    expect(started).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(most).toBe(3);
    expect(q.size).toBe(0);
  });

  it('holds the adder back while `room` items wait to start', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = new WorkQueue<number>(1, 2, async () => gate);
    await q.add(1); // running
    await q.add(2); // waiting: 1
    let third = false;
    const adding = q.add(3).then(() => (third = true)); // waiting: 2 = room, so add waits
    await tick(5);
    expect(third).toBe(false);
    expect(q.size).toBe(3);
    release();
    await adding;
    await q.drain();
    expect(third).toBe(true);
  });

  it('a failure reaches drain, and the next add; nothing more starts after it, nothing is left hanging', async () => {
    const started: number[] = [];
    const q = new WorkQueue<number>(2, 1, async (n) => {
      started.push(n);
      await tick();
      if (n === 3) throw new Error('Stripe said no');
    });
    let error: unknown = null;
    try {
      for (let i = 0; i < 20; i++) await q.add(i);
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).toBe('Stripe said no');
    await expect(q.drain()).rejects.toThrow('Stripe said no');
    expect(() => q.push(99)).toThrow('Stripe said no');
  });

  it('after a failure, what waits is dropped, not started', async () => {
    const started: number[] = [];
    const q = new WorkQueue<number>(1, 100, async (n) => {
      started.push(n);
      await tick();
      if (n === 0) throw new Error('Stripe said no');
    });
    for (let i = 0; i < 10; i++) q.push(i); // a sweep: no waiting for room
    await expect(q.drain()).rejects.toThrow('Stripe said no');
    await tick(20);
    expect(started).toEqual([0]);
  });
});
