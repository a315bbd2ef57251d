// Measures (and prints) the dispatch round trip that PARALLEL_MIN_ELEMENTS (src/wasm/pool.ts) is derived from: an
// empty job published to the workers, every worker woken and acknowledging, the calling thread's Atomics.waitAsync
// resolving. Also the calling-thread QFL kernel cost per element, for the break-even. On a shared 2-core machine the
// numbers swing with load, so the assertions are loose; the printed medians are what the threshold is checked against.
import { describe, it, expect, afterAll } from 'vitest';
import { createGfl, type Gfl } from '../dist/index.js';
import { rng, uniform } from './helpers.js';

const created: Gfl[] = [];
afterAll(async () => {
  for (const g of created) await g.dispose();
});

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

describe('wasm-simd-threads: dispatch cost', () => {
  for (const threads of [2, 3]) {
    it(`round trip of an empty job to ${threads - 1} worker${threads > 2 ? 's' : ''}`, async () => {
      const g = await createGfl({ backend: 'wasm-simd-threads', threads });
      created.push(g);
      const pool = g.threadPool!;
      for (let i = 0; i < 50; i++) await pool.ping();
      const us: number[] = [];
      for (let i = 0; i < 400; i++) {
        const t0 = performance.now();
        await pool.ping();
        us.push((performance.now() - t0) * 1000);
      }
      const med = quantile(us, 0.5), p90 = quantile(us, 0.9);
      console.log(`dispatch round trip, ${threads - 1} worker(s): median ${med.toFixed(1)} µs, p90 ${p90.toFixed(1)} µs (400 empty jobs)`);
      expect(med).toBeLessThan(5000);
    });
  }

  it('QFL kernel cost per element on the calling thread (for the break-even)', async () => {
    const g = await createGfl({ backend: 'wasm-simd-threads', threads: 1 });
    created.push(g);
    const r = rng(3);
    const n = 800, c = 80; // 64,000 elements: just under the threshold, so it runs on the calling thread
    const x = { pred: uniform(r, n * c, -6, 3), label: new Int32Array(n).fill(c), score: new Float32Array(n) };
    const out = { gradPred: new Float32Array(n * c), gradScore: new Float32Array(n) };
    for (let i = 0; i < 20; i++) g.qualityFocalLossSync(x, { out });
    const ns: number[] = [];
    for (let i = 0; i < 60; i++) {
      const t0 = performance.now();
      g.qualityFocalLossSync(x, { out });
      ns.push(((performance.now() - t0) * 1e6) / (n * c));
    }
    console.log(`QFL call (validation + copies + kernel), calling thread: median ${quantile(ns, 0.5).toFixed(2)} ns/element, min ${quantile(ns, 0).toFixed(2)}`);
    expect(quantile(ns, 0.5)).toBeGreaterThan(0);
  });
});
