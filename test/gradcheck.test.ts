// Finite-difference checks of every gradient on random inputs, on every backend: the analytic gradient of the
// kernel must match central differences of the kernel's own loss.
import { describe, it, expect } from 'vitest';
import { backends, gfl, rng, uniform } from './helpers.js';
import type { Gfl } from '../dist/index.js';

/** Checks ∂f/∂x[i] for the listed coordinates by central differences (f64 arithmetic on the f32 loss). */
function fdCheck(x: Float32Array, grad: Float32Array, f: (x: Float32Array) => number, h: number, idx: number[], tol: number) {
  let worst = 0;
  for (const i of idx) {
    const x0 = x[i];
    const xp = new Float32Array(x), xm = new Float32Array(x);
    xp[i] = x0 + h;
    xm[i] = x0 - h;
    const fd = (f(xp) - f(xm)) / (xp[i] - xm[i]);
    const err = Math.abs(fd - grad[i]) / (tol * (1 + Math.abs(fd)));
    worst = Math.max(worst, err);
    expect(Math.abs(fd - grad[i]), `coordinate ${i}: fd ${fd} vs analytic ${grad[i]}`).toBeLessThanOrEqual(tol * (1 + Math.abs(fd)));
  }
  return worst;
}

function indices(n: number, count: number, r: () => number): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: count }, () => Math.floor(r() * n));
}

function labels(r: () => number, n: number, c: number): Int32Array {
  // about half positives, some background c, some -1
  return Int32Array.from({ length: n }, () => { const u = r(); return u < 0.5 ? Math.floor(r() * c) : u < 0.8 ? c : -1; });
}

for (const backend of backends()) {
  describe(`finite differences [${backend}]`, () => {
    const g: Gfl = gfl(backend);

    for (const beta of [2, 1.5, 1, 0, 3]) {
      it(`QFL logits, beta ${beta}: pred and score`, () => {
        const r = rng(11 + beta * 10);
        const n = 9, c = 5;
        const pred = uniform(r, n * c, -4, 4), label = labels(r, n, c), score = uniform(r, n, 0.05, 0.95);
        const weight = uniform(r, n, 0.5, 1.5);
        const opts = { beta, reduction: 'sum' as const, weight };
        const res = g.qualityFocalLossSync({ pred, label, score }, opts);
        fdCheck(pred, res.gradPred!, (p) => g.qualityFocalLossSync({ pred: p, label, score }, { ...opts, grad: false }).loss, 1e-2, indices(n * c, 45, r), 3e-3);
        fdCheck(score, res.gradScore!, (s) => g.qualityFocalLossSync({ pred, label, score: s }, { ...opts, grad: false }).loss, 1e-3, indices(n, 9, r), 3e-3);
      });
    }

    it('QFL on probabilities (activated)', () => {
      const r = rng(5);
      const n = 8, c = 3;
      const pred = uniform(r, n * c, 0.05, 0.95), label = labels(r, n, c), score = uniform(r, n, 0.1, 0.9);
      const opts = { beta: 2, activated: true, reduction: 'sum' as const };
      const res = g.qualityFocalLossSync({ pred, label, score }, opts);
      fdCheck(pred, res.gradPred!, (p) => g.qualityFocalLossSync({ pred: p, label, score }, { ...opts, grad: false }).loss, 1e-3, indices(n * c, 24, r), 3e-3);
      fdCheck(score, res.gradScore!, (s) => g.qualityFocalLossSync({ pred, label, score: s }, { ...opts, grad: false }).loss, 1e-3, indices(n, 8, r), 3e-3);
    });

    it('QFL dense target: pred and target', () => {
      const r = rng(7);
      const n = 6, c = 7;
      const pred = uniform(r, n * c, -3, 3);
      const target = uniform(r, n * c, 0, 1).map((v) => (v < 0.6 ? 0 : v));
      const opts = { beta: 2, reduction: 'mean' as const, numClasses: c };
      const res = g.qualityFocalLossDenseSync({ pred, target }, opts);
      fdCheck(pred, res.gradPred!, (p) => g.qualityFocalLossDenseSync({ pred: p, target }, { ...opts, grad: false }).loss, 1e-2, indices(n * c, 42, r), 3e-3);
      const nz = [...target.keys()].filter((i) => target[i] > 0.05 && target[i] < 0.95);
      fdCheck(target, res.gradTarget!, (t) => g.qualityFocalLossDenseSync({ pred, target: t }, { ...opts, grad: false }).loss, 1e-3, nz, 3e-3);
    });

    it('sigmoid focal loss (alpha 0.25, gamma 2 and 1.5)', () => {
      for (const gamma of [2, 1.5]) {
        const r = rng(3);
        const n = 7, c = 6;
        const pred = uniform(r, n * c, -4, 4), label = labels(r, n, c);
        const opts = { gamma, alpha: 0.25, reduction: 'sum' as const };
        const res = g.sigmoidFocalLossSync({ pred, label }, opts);
        fdCheck(pred, res.gradPred!, (p) => g.sigmoidFocalLossSync({ pred: p, label }, { ...opts, grad: false }).loss, 1e-2, indices(n * c, 42, r), 3e-3);
      }
    });

    for (const convention of ['mmdet', 'ultralytics'] as const) {
      it(`DFL (${convention}): pred and target`, () => {
        const r = rng(13);
        const bins = 17, m = 10;
        const pred = uniform(r, m * bins, -3, 3);
        const target = uniform(r, m, 0.05, 14.9).map((v) => (Math.abs(v - Math.round(v)) < 0.05 ? v + 0.1 : v));
        const opts = { bins, convention, reduction: 'sum' as const, weight: uniform(r, m, 0.5, 1) };
        const res = g.distributionFocalLossSync({ pred, target }, opts);
        fdCheck(pred, res.gradPred!, (p) => g.distributionFocalLossSync({ pred: p, target }, { ...opts, grad: false }).loss, 1e-2, indices(m * bins, 60, r), 3e-3);
        fdCheck(target, res.gradTarget!, (t) => g.distributionFocalLossSync({ pred, target: t }, { ...opts, grad: false }).loss, 1e-3, indices(m, 10, r), 3e-3);
      });
    }

    it('Integral: vector-Jacobian product', () => {
      const r = rng(17);
      const bins = 17, rows = 8;
      const x = uniform(r, rows * bins, -3, 3), gy = uniform(r, rows, -1, 1);
      const res = g.integralSync({ x }, { bins, gradOutput: gy });
      const f = (xx: Float32Array) => { const y = g.integralSync({ x: xx }, { bins }).y; let s = 0; for (let i = 0; i < rows; i++) s += y[i] * gy[i]; return s; };
      fdCheck(x, res.gradX!, f, 1e-2, indices(rows * bins, 60, r), 3e-3);
    });

    for (const convention of ['mmdet', 'gfocal'] as const) {
      it(`GIoU (${convention}): pred and target`, () => {
        const r = rng(19);
        const k = 12;
        const box = () => { const x1 = r() * 20, y1 = r() * 20; return [x1, y1, x1 + 1 + r() * 15, y1 + 1 + r() * 15]; };
        const pred = Float32Array.from(Array.from({ length: k }, box).flat());
        const target = Float32Array.from(Array.from({ length: k }, box).flat());
        const opts = { convention, reduction: 'sum' as const };
        const res = g.giouLossSync({ pred, target }, opts);
        fdCheck(pred, res.gradPred!, (p) => g.giouLossSync({ pred: p, target }, { ...opts, grad: false }).loss, 1e-2, indices(4 * k, 48, r), 3e-3);
        fdCheck(target, res.gradTarget!, (t) => g.giouLossSync({ pred, target: t }, { ...opts, grad: false }).loss, 1e-2, indices(4 * k, 48, r), 3e-3);
      });
    }

    it('CIoU (alpha held constant, as upstream): pred and target', () => {
      const r = rng(23);
      const k = 12;
      const box = () => { const x1 = r() * 20, y1 = r() * 20; return [x1, y1, x1 + 1 + r() * 15, y1 + 1 + r() * 15]; };
      const pred = Float32Array.from(Array.from({ length: k }, box).flat());
      const target = Float32Array.from(Array.from({ length: k }, box).flat());
      const res = g.ciouLossSync({ pred, target }, { reduction: 'sum' });
      // with alpha held constant the gradient is not the derivative of the loss; check against a float64 model of
      // the same expression with alpha frozen at the base point
      const eps = 1e-7;
      const parts = (b: Float32Array, t: Float32Array, i: number, alphaFixed?: number) => {
        const [ax1, ay1, ax2, ay2] = [b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]];
        const [bx1, by1, bx2, by2] = [t[4 * i], t[4 * i + 1], t[4 * i + 2], t[4 * i + 3]];
        const w1 = ax2 - ax1, h1 = ay2 - ay1 + eps, w2 = bx2 - bx1, h2 = by2 - by1 + eps;
        const inter = Math.max(Math.min(ax2, bx2) - Math.max(ax1, bx1), 0) * Math.max(Math.min(ay2, by2) - Math.max(ay1, by1), 0);
        const union = w1 * h1 + w2 * h2 - inter + eps;
        const iou = inter / union;
        const cw = Math.max(ax2, bx2) - Math.min(ax1, bx1), ch = Math.max(ay2, by2) - Math.min(ay1, by1);
        const c2 = cw * cw + ch * ch + eps;
        const rho2 = ((bx1 + bx2 - ax1 - ax2) ** 2 + (by1 + by2 - ay1 - ay2) ** 2) / 4;
        const v = (4 / Math.PI ** 2) * (Math.atan(w2 / h2) - Math.atan(w1 / h1)) ** 2;
        const alpha = alphaFixed ?? v / (v - iou + (1 + eps));
        return { loss: 1 - (iou - (rho2 / c2 + v * alpha)), alpha };
      };
      const alphas = Array.from({ length: k }, (_, i) => parts(pred, target, i).alpha);
      const frozen = (p: Float32Array, t: Float32Array) => { let s = 0; for (let i = 0; i < k; i++) s += parts(p, t, i, alphas[i]).loss; return s; };
      fdCheck(pred, res.gradPred!, (p) => frozen(p, target), 1e-2, indices(4 * k, 48, r), 3e-3);
      fdCheck(target, res.gradTarget!, (t) => frozen(pred, t), 1e-2, indices(4 * k, 48, r), 3e-3);
    });

    it('general GFL form: both probabilities', () => {
      // float32 inputs perturbed by 1e-3 near the |d|^β kink: a looser tolerance than the smooth losses
      for (const beta of [2, 1.5, 0]) {
        const r = rng(29);
        const n = 10;
        const yLeft = Float32Array.from({ length: n }, () => Math.floor(r() * 10));
        const yRight = yLeft.map((v) => v + 1 + Math.floor(r() * 2));
        const target = yLeft.map((v, i) => v + (yRight[i] - v) * (0.1 + 0.8 * r()));
        const probLeft = uniform(r, n, 0.1, 0.8), probRight = uniform(r, n, 0.1, 0.8);
        const input = { probLeft, probRight, yLeft, yRight, target };
        const res = g.generalizedFocalLossSync(input, { beta, reduction: 'sum' });
        fdCheck(probLeft, res.gradProbLeft!, (p) => g.generalizedFocalLossSync({ ...input, probLeft: p }, { beta, reduction: 'sum', grad: false }).loss, 1e-3, indices(n, n, r), 1e-2);
        fdCheck(probRight, res.gradProbRight!, (p) => g.generalizedFocalLossSync({ ...input, probRight: p }, { beta, reduction: 'sum', grad: false }).loss, 1e-3, indices(n, n, r), 1e-2);
      }
    });
  });
}
