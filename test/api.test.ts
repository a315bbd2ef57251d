// The public API's contract: async twins equal the sync calls, preallocated outputs are filled in place,
// reductions relate as documented, a precompiled module is accepted, and repeated calls do not grow memory.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGfl, createGflSync, getCapabilities, FLOAT32_EPS } from '../dist/index.js';
import { backends, gfl, rng, uniform, ROOT } from './helpers.js';

for (const backend of backends()) {
  describe(`API [${backend}]`, () => {
    const g = gfl(backend);
    const r = rng(42);
    const n = 50, c = 6;
    const pred = uniform(r, n * c, -5, 3);
    const label = Int32Array.from({ length: n }, () => (r() < 0.3 ? Math.floor(r() * c) : c));
    const score = uniform(r, n, 0, 1);
    const weight = uniform(r, n, 0, 2);

    it('async twins give the same result as the sync calls', async () => {
      const a = g.qualityFocalLossSync({ pred, label, score }, { weight, avgFactor: 9 });
      const b = await g.qualityFocalLoss({ pred, label, score }, { weight, avgFactor: 9 });
      expect(b.loss).toBe(a.loss);
      expect(Array.from(b.gradPred!)).toEqual(Array.from(a.gradPred!));
      const d = await g.distributionFocalLoss({ pred: uniform(r, 17 * 4, -1, 1), target: Float32Array.of(1, 2, 3, 4) }, { bins: 17 });
      expect(d.loss).toBeGreaterThan(0);
    });

    it('fills preallocated outputs in place', () => {
      const gradPred = new Float32Array(n * c), gradScore = new Float32Array(n), rowLoss = new Float32Array(n);
      const res = g.qualityFocalLossSync({ pred, label, score }, { reduction: 'none', out: { gradPred, gradScore, rowLoss } });
      expect(res.gradPred).toBe(gradPred);
      expect(res.gradScore).toBe(gradScore);
      expect(res.rowLoss).toBe(rowLoss);
      expect(gradPred.some((v) => v !== 0)).toBe(true);
    });

    it('reductions: mean = sum / N, avgFactor adds float32 eps, lossWeight scales, none sums to sum', () => {
      const sum = g.qualityFocalLossSync({ pred, label, score }, { weight, reduction: 'sum' });
      const mean = g.qualityFocalLossSync({ pred, label, score }, { weight });
      const avg = g.qualityFocalLossSync({ pred, label, score }, { weight, avgFactor: 3, lossWeight: 0.5 });
      const none = g.qualityFocalLossSync({ pred, label, score }, { weight, reduction: 'none' });
      expect(mean.loss).toBeCloseTo(sum.loss / n, 5);
      expect(avg.loss).toBeCloseTo((0.5 * sum.loss) / (3 + FLOAT32_EPS), 5);
      expect(none.loss).toBeCloseTo(sum.loss, 4);
      for (let i = 0; i < n * c; i++) expect(mean.gradPred![i]).toBeCloseTo(sum.gradPred![i] / n, 6);
      // gradOutput (reduction 'none') weighs each row's gradient
      const go = new Float32Array(n);
      go[3] = 2;
      const v = g.qualityFocalLossSync({ pred, label, score }, { weight, reduction: 'none', gradOutput: go });
      for (let j = 0; j < c; j++) expect(v.gradPred![3 * c + j]).toBeCloseTo(2 * sum.gradPred![3 * c + j], 6);
      expect(v.gradPred![0]).toBe(0);
    });

    it('forward only (grad: false) returns the same loss and no gradient', () => {
      const a = g.qualityFocalLossSync({ pred, label, score }, { grad: false });
      const b = g.qualityFocalLossSync({ pred, label, score });
      expect(a.gradPred).toBeUndefined();
      expect(a.loss).toBe(b.loss);
    });

    it('does not grow memory over repeated training-sized calls', () => {
      const big = uniform(r, 2000 * 80, -6, 2);
      const bl = Int32Array.from({ length: 2000 }, (_, i) => (i % 20 === 0 ? i % 80 : 80));
      const bs = uniform(r, 2000, 0, 1);
      const out = { gradPred: new Float32Array(2000 * 80), gradScore: new Float32Array(2000) };
      g.qualityFocalLossSync({ pred: big, label: bl, score: bs }, { out });
      const mem = (g as unknown as { rt: { memory: WebAssembly.Memory } }).rt.memory;
      const size = mem.buffer.byteLength;
      for (let i = 0; i < 200; i++) g.qualityFocalLossSync({ pred: big, label: bl, score: bs }, { out });
      expect(mem.buffer.byteLength).toBe(size);
    });
  });
}

describe('creation', () => {
  it('auto picks SIMD in Node and reports why', async () => {
    expect(getCapabilities().simd).toBe(true);
    const g = await createGfl();
    // wasm-simd-threads where there is more than one logical processor (test/threads*.test.ts), else wasm-simd
    expect(g.backend).toMatch(/^wasm-simd/);
    expect(g.backendReason).toMatch(/SIMD/);
    await g.dispose();
  });

  it('accepts a precompiled WebAssembly.Module and raw bytes (edge runtimes)', () => {
    const bytes = readFileSync(join(ROOT, 'build', 'gfloss-simd.wasm'));
    const module = new WebAssembly.Module(bytes);
    const a = createGflSync({ backend: 'wasm-simd', wasmModule: module });
    const b = createGflSync({ backend: 'wasm-simd', wasmModule: bytes });
    const x = { pred: Float32Array.of(-1, 2, 0.5), label: Int32Array.of(1), score: Float32Array.of(0.7) };
    expect(a.qualityFocalLossSync(x).loss).toBe(b.qualityFocalLossSync(x).loss);
    expect(a.qualityFocalLossSync(x).loss).toBe(gfl('wasm-simd').qualityFocalLossSync(x).loss);
  });
});
