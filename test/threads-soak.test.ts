// Memory stays flat over many training-step calls on the thread pool: the shared wasm memory stops growing after the
// first step, and the process's memory does not creep. CI runs 200 steps; the 10,000 are run by hand:
//   GFLOSS_SOAK=10000 npx vitest run test/threads-soak.test.ts
import { describe, it, expect, afterAll } from 'vitest';
import { createGfl, type Gfl } from '../dist/index.js';
import { rng, uniform } from './helpers.js';

const STEPS = Number(process.env.GFLOSS_SOAK ?? 200);
const N = Number(process.env.GFLOSS_SOAK_N ?? 8400); // anchors (8400: a 640×640 YOLOv8 input; 67200: GFL at P3–P7)
const C = 80, K = Math.round(N * 0.05), BINS = 17;

let g: Gfl | undefined;
afterAll(async () => {
  await g?.dispose();
});

const mb = (b: number) => (b / 2 ** 20).toFixed(1);

describe('wasm-simd-threads: memory over many calls', () => {
  it(`stays flat over ${STEPS} training steps (QFL ${N}×${C} + DFL + GIoU, async, preallocated outputs)`, async () => {
    g = await createGfl({ backend: 'wasm-simd-threads', threads: 2 });
    const r = rng(11);
    const pred = uniform(r, N * C, -6, 3);
    const label = Int32Array.from({ length: N }, (_, i) => (i < K ? i % C : C));
    const score = uniform(r, N, 0, 1);
    const reg = uniform(r, K * 4 * BINS, -2, 2), dist = uniform(r, K * 4, 0, 15.9);
    const boxes = uniform(r, K * 4, 0, 100).map((v, i) => (i % 4 < 2 ? v : v + 120));
    const boxT = boxes.map((v) => v + 3);
    const outQ = { gradPred: new Float32Array(N * C), gradScore: new Float32Array(N) };
    const outD = { gradPred: new Float32Array(K * 4 * BINS), gradTarget: new Float32Array(K * 4) };
    const outB = { gradPred: new Float32Array(K * 4), gradTarget: new Float32Array(K * 4) };
    const step = async () => {
      const q = await g!.qualityFocalLoss({ pred, label, score }, { avgFactor: K, out: outQ });
      const d = await g!.distributionFocalLoss({ pred: reg, target: dist }, { bins: BINS, avgFactor: 4 * K, lossWeight: 0.25, out: outD });
      const b = await g!.giouLoss({ pred: boxes, target: boxT }, { avgFactor: K, lossWeight: 2, out: outB });
      return q.loss + d.loss + b.loss;
    };
    const first = await step();
    for (let i = 0; i < 9; i++) await step();
    const wasmBytes = (g.threadPool as unknown as { rt: { memory: WebAssembly.Memory } }).rt.memory.buffer.byteLength;
    const m0 = process.memoryUsage();
    const calls0 = g.threadPool!.parallelCalls;
    const t0 = performance.now();
    for (let i = 0; i < STEPS; i++) {
      const loss = await step();
      if (loss !== first) throw new Error(`step ${i}: loss ${loss} differs from the first step's ${first}`);
    }
    const ms = performance.now() - t0;
    const m1 = process.memoryUsage();
    const wasmAfter = (g.threadPool as unknown as { rt: { memory: WebAssembly.Memory } }).rt.memory.buffer.byteLength;
    console.log(`${STEPS} steps in ${(ms / 1000).toFixed(1)} s (${(ms / STEPS).toFixed(2)} ms/step); wasm memory ${mb(wasmBytes)} → ${mb(wasmAfter)} MiB; ` +
      `rss ${mb(m0.rss)} → ${mb(m1.rss)} MiB; heapUsed ${mb(m0.heapUsed)} → ${mb(m1.heapUsed)} MiB; external ${mb(m0.external)} → ${mb(m1.external)} MiB`);
    expect(wasmAfter).toBe(wasmBytes);
    expect(g.threadPool!.parallelCalls - calls0).toBeGreaterThanOrEqual(STEPS); // the QFL call is split every step
    expect(m1.rss - m0.rss).toBeLessThan(64 * 2 ** 20);
    expect(m1.heapUsed - m0.heapUsed).toBeLessThan(32 * 2 ** 20);
  }, Math.max(120_000, STEPS * 200));
});
