// Properties on random inputs: losses are non-negative, QFL is minimal at σ = y, DFL is minimal at the two-bin
// target, the general GFL form reduces to QFL and DFL, and the scalar and SIMD builds agree.
import { describe, it, expect } from 'vitest';
import { backends, gfl, rng, uniform, maxAbsDiff, maxAbs } from './helpers.js';

function randomLabels(r: () => number, n: number, c: number): Int32Array {
  return Int32Array.from({ length: n }, () => (r() < 0.3 ? Math.floor(r() * c) : c));
}

for (const backend of backends()) {
  describe(`properties [${backend}]`, () => {
    const g = gfl(backend);

    it('every loss is ≥ 0 on random inputs (logits up to ±30)', () => {
      const r = rng(101);
      for (let trial = 0; trial < 20; trial++) {
        const n = 1 + Math.floor(r() * 40), c = 1 + Math.floor(r() * 12);
        const pred = uniform(r, n * c, -30, 30), label = randomLabels(r, n, c), score = uniform(r, n, 0, 1);
        const beta = [0, 0.5, 1, 1.5, 2, 3][trial % 6];
        const q = g.qualityFocalLossSync({ pred, label, score }, { beta, reduction: 'none', returnElementLoss: true });
        expect(Math.min(...q.elementLoss!)).toBeGreaterThanOrEqual(0);
        const f = g.sigmoidFocalLossSync({ pred, label }, { reduction: 'none' });
        expect(Math.min(...f.elementLoss!)).toBeGreaterThanOrEqual(0);
        const bins = 2 + Math.floor(r() * 17);
        const dp = uniform(r, n * bins, -20, 20), dt = uniform(r, n, 0, bins - 1.0001);
        const d = g.distributionFocalLossSync({ pred: dp, target: dt }, { bins, reduction: 'none' });
        expect(Math.min(...d.rowLoss!)).toBeGreaterThanOrEqual(0);
        const boxes = (k: number) => Float32Array.from(Array.from({ length: k }, () => { const x = r() * 50, y = r() * 50; return [x, y, x + r() * 30, y + r() * 30]; }).flat());
        const gi = g.giouLossSync({ pred: boxes(n), target: boxes(n) }, { reduction: 'none' });
        for (const v of gi.rowLoss!) { expect(v).toBeGreaterThanOrEqual(0); expect(v).toBeLessThanOrEqual(2); }
        const ci = g.ciouLossSync({ pred: boxes(n), target: boxes(n) }, { reduction: 'none' });
        expect(Math.min(...ci.rowLoss!)).toBeGreaterThanOrEqual(0);
      }
    });

    it('QFL of a positive is minimal where sigmoid(x) = y, with zero gradient there', () => {
      for (const y of [0.1, 0.37, 0.5, 0.83, 0.99]) {
        for (const beta of [1, 1.5, 2]) {
          const xs = Float32Array.from({ length: 2001 }, (_, i) => -10 + i * 0.01);
          const label = new Int32Array(xs.length); // every row: one class, positive
          const score = new Float32Array(xs.length).fill(y);
          const res = g.qualityFocalLossSync({ pred: xs, label, score }, { beta, reduction: 'none' });
          let best = 0;
          for (let i = 1; i < xs.length; i++) if (res.rowLoss![i] < res.rowLoss![best]) best = i;
          const logit = Math.log(y / (1 - y));
          expect(Math.abs(xs[best] - logit)).toBeLessThanOrEqual(0.011);
          // gradient changes sign across the minimum
          const at = g.qualityFocalLossSync({ pred: Float32Array.of(logit - 0.05, logit + 0.05), label: new Int32Array(2), score: Float32Array.of(y, y) }, { beta, reduction: 'none' });
          expect(at.gradPred![0]).toBeLessThan(0);
          expect(at.gradPred![1]).toBeGreaterThan(0);
        }
      }
    });

    it('DFL is minimal at the two-bin target distribution', () => {
      const bins = 17;
      for (const y of [0.3, 3.75, 7.5, 15.2]) {
        const l = Math.floor(y), wl = l + 1 - y, wr = y - l;
        const z = new Float32Array(bins).fill(-60);
        z[l] = Math.log(wl);
        z[l + 1] = Math.log(wr);
        const at = g.distributionFocalLossSync({ pred: z, target: Float32Array.of(y) }, { bins, reduction: 'sum' });
        expect(maxAbs(at.gradPred!)).toBeLessThan(2e-6);
        const entropy = -(wl * Math.log(wl) + wr * Math.log(wr));
        expect(at.loss).toBeCloseTo(entropy, 5);
        const r = rng(Math.round(y * 100));
        for (let k = 0; k < 20; k++) {
          // move one bin's logit by 0.02..0.1 either way (a common shift of all logits would change nothing)
          const zp = new Float32Array(z);
          const j = r() < 0.5 ? l : l + 1;
          zp[j] += (r() < 0.5 ? -1 : 1) * (0.02 + 0.08 * r());
          const other = g.distributionFocalLossSync({ pred: zp, target: Float32Array.of(y) }, { bins, reduction: 'sum', grad: false });
          expect(other.loss).toBeGreaterThan(at.loss);
        }
      }
    });

    it('the general GFL form reduces to QFL (y_l = 0, y_r = 1, p_r = σ) and to DFL (β = 0)', () => {
      const r = rng(7);
      const n = 50;
      const x = uniform(r, n, -4, 4), y = uniform(r, n, 0.05, 0.95);
      const sig = x.map((v) => 1 / (1 + Math.exp(-v)));
      const gen = g.generalizedFocalLossSync(
        { probLeft: sig.map((s) => 1 - s), probRight: sig, yLeft: new Float32Array(n), yRight: new Float32Array(n).fill(1), target: y },
        { beta: 2, reduction: 'none' });
      const qfl = g.qualityFocalLossSync({ pred: x, label: new Int32Array(n), score: y }, { beta: 2, reduction: 'none' });
      expect(maxAbsDiff(gen.rowLoss!, qfl.rowLoss!)).toBeLessThan(2e-5 * Math.max(1, maxAbs(qfl.rowLoss!)));
      // DFL: two bins l, l+1 of a softmax; β = 0
      const bins = 9;
      const z = uniform(r, n * bins, -2, 2), t = uniform(r, n, 0.1, 7.9);
      const dfl = g.distributionFocalLossSync({ pred: z, target: t }, { bins, reduction: 'none' });
      const pl = new Float32Array(n), pr = new Float32Array(n), yl = new Float32Array(n), yr = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const row = Array.from(z.subarray(i * bins, (i + 1) * bins));
        const m = Math.max(...row), s = row.reduce((a, v) => a + Math.exp(v - m), 0);
        const l = Math.floor(t[i]);
        yl[i] = l; yr[i] = l + 1;
        pl[i] = Math.exp(row[l] - m) / s; pr[i] = Math.exp(row[l + 1] - m) / s;
      }
      const gen0 = g.generalizedFocalLossSync({ probLeft: pl, probRight: pr, yLeft: yl, yRight: yr, target: t }, { beta: 0, reduction: 'none' });
      expect(maxAbsDiff(gen0.rowLoss!, dfl.rowLoss!)).toBeLessThan(1e-5 * Math.max(1, maxAbs(dfl.rowLoss!)));
    });
  });
}

describe('scalar and SIMD builds agree', () => {
  const [s, v] = [gfl('wasm-scalar'), gfl('wasm-simd')];
  const close = (a: Float32Array, b: Float32Array, rel: number) => expect(maxAbsDiff(a, b)).toBeLessThanOrEqual(rel * Math.max(1, maxAbs(a)));

  it('on every loss, over shapes with and without vector tails', () => {
    const r = rng(555);
    for (const c of [1, 2, 3, 4, 5, 7, 8, 13, 16, 17, 20, 32, 80, 81]) {
      const n = 37;
      const pred = uniform(r, n * c, -12, 12), label = randomLabels(r, n, c), score = uniform(r, n, 0, 1);
      for (const beta of [2, 0, 1.5, 3]) {
        const a = s.qualityFocalLossSync({ pred, label, score }, { beta, reduction: 'none', returnElementLoss: true });
        const b = v.qualityFocalLossSync({ pred, label, score }, { beta, reduction: 'none', returnElementLoss: true });
        close(a.elementLoss!, b.elementLoss!, 2e-6);
        close(a.gradPred!, b.gradPred!, 2e-6);
        close(a.gradScore!, b.gradScore!, 2e-6);
      }
      const target = uniform(r, n * c, 0, 1).map((t) => (t < 0.7 ? 0 : t));
      const a = s.qualityFocalLossDenseSync({ pred, target }, { numClasses: c, reduction: 'none' });
      const b = v.qualityFocalLossDenseSync({ pred, target }, { numClasses: c, reduction: 'none' });
      close(a.rowLoss!, b.rowLoss!, 2e-6);
      close(a.gradPred!, b.gradPred!, 2e-6);
      close(a.gradTarget!, b.gradTarget!, 2e-6);
      const fa = s.sigmoidFocalLossSync({ pred, label }, { reduction: 'none' });
      const fb = v.sigmoidFocalLossSync({ pred, label }, { reduction: 'none' });
      close(fa.elementLoss!, fb.elementLoss!, 2e-6);
      close(fa.gradPred!, fb.gradPred!, 2e-6);
    }
    for (const bins of [2, 3, 5, 8, 16, 17]) {
      const m = 41;
      const pred = uniform(r, m * bins, -10, 10), target = uniform(r, m, 0, bins - 1.001);
      const a = s.distributionFocalLossSync({ pred, target }, { bins, reduction: 'none' });
      const b = v.distributionFocalLossSync({ pred, target }, { bins, reduction: 'none' });
      close(a.rowLoss!, b.rowLoss!, 2e-6);
      close(a.gradPred!, b.gradPred!, 2e-6);
      const gy = uniform(r, m, -1, 1);
      const ia = s.integralSync({ x: pred }, { bins, gradOutput: gy });
      const ib = v.integralSync({ x: pred }, { bins, gradOutput: gy });
      close(ia.y, ib.y, 2e-6);
      close(ia.gradX!, ib.gradX!, 2e-6);
    }
  });
});

describe('QFL with one class (the SIMD kernel runs four rows a vector)', () => {
  it('every output equals the scalar build\'s within 2e-6, score gradients of negative rows exactly 0, stale outputs overwritten', () => {
    const [s, v] = [gfl('wasm-scalar'), gfl('wasm-simd')];
    const r = rng(101);
    for (const n of [1, 3, 4, 1003]) {
      // detector-like: most rows far below zero, so whole vectors of four negatives take the far path
      const pred = Float32Array.from({ length: n }, (_, i) => (i % 97 === 5 ? 3 * r() : -4.6 + 2 * (r() - 0.5)));
      const label = Int32Array.from({ length: n }, (_, i) => (i % 97 === 5 || r() < 0.03 ? 0 : 1));
      const score = uniform(r, n, 0, 1), weight = uniform(r, n, 0.5, 2);
      for (const reduction of ['none', 'sum'] as const) {
        const out = () => ({ gradPred: new Float32Array(n).fill(7), gradScore: new Float32Array(n).fill(7), rowLoss: new Float32Array(n).fill(7) });
        const a = s.qualityFocalLossSync({ pred, label, score, weight }, { reduction, returnRowLoss: true, out: out() });
        const b = v.qualityFocalLossSync({ pred, label, score, weight }, { reduction, returnRowLoss: true, out: out() });
        expect(Math.abs(b.loss - a.loss), `loss n=${n} ${reduction}`).toBeLessThanOrEqual(2e-6 * Math.abs(a.loss));
        for (const k of ['gradPred', 'gradScore', 'rowLoss'] as const) {
          const x = a[k]!, y = b[k]!;
          for (let i = 0; i < n; i++) expect(Math.abs(y[i] - x[i]), `${k}[${i}] n=${n}`).toBeLessThanOrEqual(2e-6 * Math.abs(x[i]) + 1e-30);
        }
        for (let i = 0; i < n; i++) if (label[i] !== 0) expect(b.gradScore![i], `gradScore[${i}]`).toBe(0);
      }
    }
  });
});

describe('QFL: a NaN logit leaves the other logits of its run of sixteen alone', () => {
  it('a NaN beside a logit above the far range (same lane of the next vector) changes only its own element', () => {
    const [s, v] = [gfl('wasm-scalar'), gfl('wasm-simd')];
    // the rest far below zero, so that without the NaN the run would take the far-negative path
    for (const [nanAt, at, x] of [[10, 14, 1], [10, 14, 0], [1, 5, -1.5], [2, 6, 0.5], [0, 4, 3]]) {
      const pred = new Float32Array(16).fill(-5);
      pred[nanAt] = NaN;
      pred[at] = x;
      const input = { pred, label: new Int32Array([16]), score: new Float32Array([0.5]) };
      const o = { reduction: 'none' as const, returnElementLoss: true };
      const a = s.qualityFocalLossSync(input, o), b = v.qualityFocalLossSync(input, o);
      for (let j = 0; j < 16; j++) {
        if (j === nanAt) { expect(b.elementLoss![j]).toBeNaN(); continue; }
        expect(Math.abs(b.elementLoss![j] - a.elementLoss![j]), `element ${j}, NaN at ${nanAt}`).toBeLessThanOrEqual(1e-6 * a.elementLoss![j]);
        expect(Math.abs(b.gradPred![j] - a.gradPred![j]), `gradient ${j}, NaN at ${nanAt}`).toBeLessThanOrEqual(1e-6 * Math.abs(a.gradPred![j]));
      }
    }
  });
});

describe('QFL: an infinite negative logit beside a positive', () => {
  it('gets the negative form\'s loss and gradient, as on the scalar build (1, 4 and 20 classes, β 2 and 0)', () => {
    const [s, v] = [gfl('wasm-scalar'), gfl('wasm-simd')];
    for (const c of [1, 4, 20]) {
      for (const inf of [-Infinity, Infinity]) {
        for (const beta of [2, 0]) {
          // 8 rows; the positive and the infinite negative share a vector: four rows at one class, one row's four
          // columns at 4 classes, a row's last four columns at 20 classes
          const n = 8, pred = new Float32Array(n * c).fill(-3), label = new Int32Array(n).fill(c);
          if (c === 1) { pred[0] = inf; pred[1] = 0.5; label[1] = 0; }
          else { const base = 2 * c + c - 4; pred[base] = inf; pred[base + 1] = 0.5; label[2] = c - 3; }
          const input = { pred, label, score: new Float32Array(n).fill(0.5) };
          const o = { reduction: 'none' as const, returnElementLoss: true, beta };
          const a = s.qualityFocalLossSync(input, o), b = v.qualityFocalLossSync(input, o);
          const at = c === 1 ? 0 : 3 * c - 4;
          expect(b.elementLoss![at], `${c} classes, x = ${inf}, β ${beta}: loss`).toBe(a.elementLoss![at]);
          expect(b.gradPred![at], `${c} classes, x = ${inf}, β ${beta}: gradient`).toBe(a.gradPred![at]);
          for (let i = 0; i < n; i++) if (i !== (c === 1 ? 0 : 2)) expect(Number.isNaN(b.rowLoss![i]), `row ${i}`).toBe(false);
        }
      }
    }
  });
});

describe('QFL score gradients', () => {
  it('are 0 at rows without a positive on every backend, over stale outputs (1, 16, 20 and 80 classes)', () => {
    const r = rng(31);
    for (const backend of ['wasm-scalar', 'wasm-simd', 'wasm-simd-threads-build'] as const) {
      for (const c of [1, 16, 20, 80]) {
        const n = 203;
        const pred = Float32Array.from({ length: n * c }, () => -4.6 + 2 * (r() - 0.5));
        const label = Int32Array.from({ length: n }, () => (r() < 0.2 ? Math.floor(r() * c) : c));
        const gradScore = new Float32Array(n).fill(7);
        gfl(backend).qualityFocalLossSync({ pred, label, score: uniform(r, n, 0, 1) }, { out: { gradScore } });
        for (let i = 0; i < n; i++) {
          if (label[i] >= c) expect(gradScore[i], `${backend} ${c} classes, row ${i}`).toBe(0);
          else expect(gradScore[i], `${backend} ${c} classes, row ${i}`).not.toBe(7);
        }
      }
    }
  });
});

describe('the threads build on shared memory', () => {
  it('gives bitwise the same results as the SIMD build (same kernels, one thread)', () => {
    const r = rng(808);
    const n = 300, c = 80;
    const pred = uniform(r, n * c, -8, 4), label = randomLabels(r, n, c), score = uniform(r, n, 0, 1);
    const a = gfl('wasm-simd').qualityFocalLossSync({ pred, label, score }, { avgFactor: 20 });
    const b = gfl('wasm-simd-threads-build').qualityFocalLossSync({ pred, label, score }, { avgFactor: 20 });
    expect(b.loss).toBe(a.loss);
    expect(Buffer.from(b.gradPred!.buffer).equals(Buffer.from(a.gradPred!.buffer))).toBe(true);
  });
});


describe('QFL against a float64 model, per element', () => {
  // σ, softplus and the β = 2 negative/positive formulas in float64, for logits over the whole useful range and for
  // the far-negative range that the SIMD kernel computes without a log
  const model = (x: number, y: number, pos: boolean) => {
    const s = 1 / (1 + Math.exp(-x));
    const sp = x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
    if (!pos) return { l: sp * s * s, g: s * s * s + 2 * s * s * (1 - s) * sp };
    const d = y - s, bce = sp - x * y;
    return { l: bce * d * d, g: (s - y) * d * d - 2 * d * s * (1 - s) * bce };
  };
  // 20 classes: each row's last four logits take the row-tail path of the SIMD kernel; 1 class: four rows a vector
  // (2,003 rows: a partial last vector)
  for (const [lo, hi, c] of [[-20, -3, 80], [-8, 8, 80], [-40, 40, 80], [-20, -3, 20], [-8, 8, 20], [-20, -3, 1], [-8, 8, 1]]) {
    it(`logits in [${lo}, ${hi}], ${c} classes`, () => {
      const r = rng(lo * 1000 + hi + c);
      const n = c === 1 ? 2003 : 500;
      const pred = uniform(r, n * c, lo, hi);
      const label = Int32Array.from({ length: n }, () => (r() < 0.1 ? Math.floor(r() * c) : c));
      const score = uniform(r, n, 0, 1);
      for (const backend of backends()) {
        const res = gfl(backend).qualityFocalLossSync({ pred, label, score }, { reduction: 'none', returnElementLoss: true });
        // negatives: relative error per element; positives: error relative to the size of their terms (d = y − σ
        // vanishes at the minimum, so a relative bound there would measure cancellation, not the kernel)
        let negL = 0, negG = 0, posL = 0, posG = 0;
        for (let i = 0; i < n * c; i++) {
          const row = Math.floor(i / c);
          const pos = label[row] === i % c;
          const m = model(pred[i], score[row], pos);
          const el = Math.abs(res.elementLoss![i] - m.l), eg = Math.abs(res.gradPred![i] - m.g);
          if (pos) {
            const scale = Math.abs(pred[i]) + 1;
            posL = Math.max(posL, el / scale);
            posG = Math.max(posG, eg / scale);
          } else {
            negL = Math.max(negL, el / (Math.abs(m.l) + 1e-38));
            negG = Math.max(negG, eg / (Math.abs(m.g) + 1e-38));
          }
        }
        expect(negL, `${backend} negative loss`).toBeLessThan(2e-6);
        expect(negG, `${backend} negative gradient`).toBeLessThan(2e-6);
        expect(posL, `${backend} positive loss`).toBeLessThan(1e-6);
        expect(posG, `${backend} positive gradient`).toBeLessThan(1e-6);
      }
    });
  }
});
