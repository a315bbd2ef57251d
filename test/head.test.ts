// The two head losses (GFL head, YOLOv8) on small random problems, on every backend: against an independent float64
// reference (bench/head-reference.mjs), finite differences of the losses, the edge cases of the normalisers, and bad
// input. The upstream-executed cases are in golden.test.ts.
import { describe, it, expect } from 'vitest';
import { backends, gfl, rng, uniform, maxAbs, maxAbsDiff, expectSameValues } from './helpers.js';
import { GflInputError, type Gfl, type GflHeadInput, type YoloV8Input } from '../dist/index.js';
// @ts-expect-error: plain JavaScript module without types
import { gflHeadReference, yoloV8Reference } from '../bench/head-reference.mjs';

const LEVELS: Array<[number, number]> = [[4, 4], [2, 2]];
const STRIDES = [8, 16];

interface HeadProblem { input: GflHeadInput; numImages: number; c: number; bins: number }

/** Rows level-major, then image, y, x; anchors 8·stride squares at (x·s, y·s); targets around the anchor centres. */
function gflProblem(seed: number, opts: { numImages?: number; c?: number; posRate?: (level: number, image: number) => number } = {}): HeadProblem {
  const r = rng(seed);
  const B = opts.numImages ?? 2, c = opts.c ?? 4, bins = 17;
  const posRate = opts.posRate ?? (() => 0.35);
  const rowsL = LEVELS.map(([h, w]) => B * h * w);
  const n = rowsL.reduce((a, b) => a + b, 0);
  const anchors = new Float32Array(4 * n), stride = new Float32Array(n), labels = new Int32Array(n).fill(c);
  const targets = new Float32Array(4 * n), labelWeights = new Float32Array(n).fill(1);
  let i = 0;
  LEVELS.forEach(([h, w], l) => {
    const s = STRIDES[l];
    for (let b = 0; b < B; b++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++, i++) {
      const cx = x * s, cy = y * s, half = 4 * s;
      anchors.set([cx - half, cy - half, cx + half, cy + half], 4 * i);
      stride[i] = s;
      if (r() < posRate(l, b)) {
        labels[i] = Math.floor(r() * c);
        // distances 0.5 .. 14 strides from the centre, so most DFL targets are inside [0, 15.9] and some are clamped
        targets.set([cx - s * (0.5 + 13.5 * r()), cy - s * (0.5 + 13.5 * r()), cx + s * (0.5 + 17 * r()), cy + s * (0.5 + 13.5 * r())], 4 * i);
      }
      if (r() < 0.1) labelWeights[i] = 0;
    }
  });
  return {
    input: {
      clsScore: uniform(r, n * c, -5, 3), bboxPred: uniform(r, n * 4 * bins, -3, 3), anchors, stride, labels, labelWeights,
      bboxTargets: targets,
    },
    numImages: B, c, bins,
  };
}

function avgFactorOf(p: HeadProblem): number {
  // Σ_images max(num_pos_image, 1), images from the level-major layout
  const counts = new Array(p.numImages).fill(0);
  let i = 0;
  for (const [h, w] of LEVELS) for (let b = 0; b < p.numImages; b++) for (let k = 0; k < h * w; k++, i++) {
    if (p.input.labels[i] >= 0 && p.input.labels[i] < p.c) counts[b]++;
  }
  return counts.reduce((a, v) => a + Math.max(v, 1), 0);
}

function close(a: number, b: number, rel = 1e-5, abs = 1e-6) {
  expect(Math.abs(a - b), `${a} vs ${b}`).toBeLessThanOrEqual(abs + rel * Math.abs(b));
}

/** Central differences of f at the listed coordinates against the analytic gradient. */
function fd(x: Float32Array, grad: Float32Array, f: (x: Float32Array) => number, h: number, idx: number[], tol: number) {
  for (const i of idx) {
    const xp = new Float32Array(x), xm = new Float32Array(x);
    xp[i] += h; xm[i] -= h;
    const d = (f(xp) - f(xm)) / (xp[i] - xm[i]);
    expect(Math.abs(d - grad[i]), `coordinate ${i}: fd ${d} vs analytic ${grad[i]}`).toBeLessThanOrEqual(tol * (1 + Math.abs(d)));
  }
}

function yoloProblem(seed: number, nc = 3, batch = 2): { input: YoloV8Input; points: Float32Array; strides: Float32Array; batch: number } {
  const r = rng(seed);
  const bins = 16;
  const pts: number[] = [], st: number[] = [];
  LEVELS.forEach(([h, w], l) => { for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) { pts.push(x + 0.5, y + 0.5); st.push(STRIDES[l]); } });
  const a = st.length, rows = batch * a;
  const fgMask = new Uint8Array(rows), targetScores = new Float32Array(rows * nc), targetBboxes = new Float32Array(rows * 4);
  for (let i = 0; i < rows; i++) {
    if (r() < 0.4) {
      fgMask[i] = 1;
      targetScores[i * nc + Math.floor(r() * nc)] = 0.1 + 0.8 * r();
      const ai = i % a, s = st[ai], cx = pts[2 * ai] * s, cy = pts[2 * ai + 1] * s;
      targetBboxes.set([cx - s * (0.3 + 10 * r()), cy - s * (0.3 + 10 * r()), cx + s * (0.3 + 16 * r()), cy + s * (0.3 + 10 * r())], 4 * i);
    }
  }
  return {
    input: { predScores: uniform(r, rows * nc, -4, 2), predDistri: uniform(r, rows * 4 * bins, -3, 3), targetBboxes, targetScores, fgMask },
    points: Float32Array.from(pts), strides: Float32Array.from(st), batch,
  };
}

function expectInputError(fn: () => unknown, argument: string) {
  let caught: unknown;
  try { fn(); } catch (e) { caught = e; }
  expect(caught, `expected a GflInputError for ${argument}`).toBeInstanceOf(GflInputError);
  expect((caught as GflInputError).argument).toBe(argument);
}

for (const backend of backends()) {
  describe(`GFL head loss [${backend}]`, () => {
    const g: Gfl = gfl(backend);

    it('matches the float64 reference: losses, gradients, score targets, weights', () => {
      const p = gflProblem(1);
      const res = g.gflHeadLossSync(p.input, { levels: LEVELS, numImages: p.numImages, returnIntermediates: true });
      const ref = gflHeadReference(p.input, { numClasses: p.c, avgFactor: avgFactorOf(p) });
      expect(res.intermediates!.qflAvgFactor).toBe(avgFactorOf(p));
      close(res.lossCls, ref.lossCls); close(res.lossBbox, ref.lossBbox); close(res.lossDfl, ref.lossDfl); close(res.loss, ref.loss);
      expect(maxAbsDiff(res.gradClsScore!, ref.gradClsScore)).toBeLessThanOrEqual(1e-5 * maxAbs(ref.gradClsScore));
      expect(maxAbsDiff(res.gradBboxPred!, ref.gradBboxPred)).toBeLessThanOrEqual(1e-5 * maxAbs(ref.gradBboxPred));
      const it = res.intermediates!;
      expect(maxAbsDiff(it.qflScoreTarget, ref.score)).toBeLessThanOrEqual(1e-6);
      expect(maxAbsDiff(it.weightTargets, ref.weights)).toBeLessThanOrEqual(1e-6);
      // the async twin gives the same numbers
      return g.gflHeadLoss(p.input, { levels: LEVELS, numImages: p.numImages }).then((a) => {
        expect(a.loss).toBe(res.loss);
        expectSameValues(a.gradBboxPred, res.gradBboxPred, 'gradBboxPred');
      });
    });

    it('finite differences: cls logits through QFL, box logits through GIoU + DFL', () => {
      const p = gflProblem(2, { numImages: 1 });
      const opts = { levels: LEVELS, numImages: 1 };
      const res = g.gflHeadLossSync(p.input, opts);
      const r = rng(3);
      const pick = (n: number, k: number) => Array.from({ length: k }, () => Math.floor(r() * n));
      // w and the IoU score are detached: the cls gradient is that of lossCls, the box gradient that of lossBbox + lossDfl
      fd(p.input.clsScore, res.gradClsScore!, (x) => g.gflHeadLossSync({ ...p.input, clsScore: x }, { ...opts, grad: false }).lossCls,
        1e-2, pick(p.input.clsScore.length, 40), 3e-3);
      const posRows = [...p.input.labels].flatMap((l, i) => (l >= 0 && l < p.c ? [i] : []));
      const W = 4 * p.bins;
      const idx = pick(60, 60).map((k) => posRows[k % posRows.length] * W + Math.floor(r() * W));
      fd(p.input.bboxPred, res.gradBboxPred!, (x) => {
        const o = g.gflHeadLossSync({ ...p.input, bboxPred: x }, { ...opts, grad: false });
        return o.lossBbox + o.lossDfl;
      }, 3e-3, idx, 3e-3);
    });

    it('no positives at all: box and DFL losses 0, box gradient 0, QFL over B images', () => {
      const p = gflProblem(4, { posRate: () => 0 });
      const res = g.gflHeadLossSync(p.input, { levels: LEVELS, numImages: p.numImages, returnPerLevel: true, returnIntermediates: true });
      expect(res.lossBbox).toBe(0);
      expect(res.lossDfl).toBe(0);
      expect(maxAbs(res.gradBboxPred!)).toBe(0);
      expect(res.intermediates!.qflAvgFactor).toBe(p.numImages);
      expect(res.intermediates!.bboxAvgFactor).toBe(1);
      expect(res.intermediates!.posInds.length).toBe(0);
      close(res.lossCls, gflHeadReference(p.input, { numClasses: p.c, avgFactor: p.numImages }).lossCls);
      expect(Number.isFinite(res.loss)).toBe(true);
    });

    it('a level without positives contributes QFL only', () => {
      const p = gflProblem(5, { posRate: (l) => (l === 1 ? 0 : 0.4) });
      const res = g.gflHeadLossSync(p.input, { levels: LEVELS, numImages: p.numImages, returnPerLevel: true });
      const pl = res.perLevel!;
      expect(pl.lossBbox[1]).toBe(0);
      expect(pl.lossDfl[1]).toBe(0);
      expect(pl.lossCls[1]).toBeGreaterThan(0);
      close(pl.lossBbox[0], res.lossBbox, 1e-12, 0);
      close(pl.lossCls[0] + pl.lossCls[1], res.lossCls, 1e-6, 0);
      const ref = gflHeadReference(p.input, { numClasses: p.c, avgFactor: avgFactorOf(p) });
      close(res.loss, ref.loss);
    });

    it('an image with zero positives counts 1 in the QFL avg_factor', () => {
      const p = gflProblem(6, { numImages: 2, posRate: (_l, b) => (b === 1 ? 0 : 0.5) });
      const res = g.gflHeadLossSync(p.input, { levels: LEVELS, numImages: 2, returnIntermediates: true });
      const npos = res.intermediates!.posInds.length;
      expect(npos).toBeGreaterThan(0);
      expect(res.intermediates!.qflAvgFactor).toBe(npos + 1);
      close(res.lossCls, gflHeadReference(p.input, { numClasses: p.c, avgFactor: npos + 1 }).lossCls);
      // an explicit avgFactor overrides the count
      const o = g.gflHeadLossSync(p.input, { levels: LEVELS, numImages: 2, avgFactor: 7 });
      close(o.lossCls, gflHeadReference(p.input, { numClasses: p.c, avgFactor: 7 }).lossCls);
    });

    it('quality weights: sigmoid of each positive row\'s max; a NaN (vector or tail column) makes only its row\'s NaN', () => {
      // 7 classes: one vector of four columns and three tail columns per row; the positives are taken four at a time
      const p = gflProblem(12, { numImages: 2, c: 7, posRate: () => 0.6 });
      const cls = Float32Array.from(p.input.clsScore);
      const pos = Array.from(p.input.labels.keys()).filter((i) => p.input.labels[i] < p.c);
      expect(pos.length).toBeGreaterThan(8);
      expect(pos.length % 4).not.toBe(0);
      // the row maximum in a tail column for every third positive (the logits are drawn from [−5, 3))
      pos.forEach((row, k) => { if (k % 3 === 0) cls[row * p.c + 4 + (k % 2)] = 4; });
      const nanRows = new Set([pos[1], pos[6]]);
      cls[pos[1] * p.c + 1] = NaN;
      cls[pos[6] * p.c + 5] = NaN;
      const res = g.gflHeadLossSync({ ...p.input, clsScore: cls }, { levels: LEVELS, numImages: 2, returnIntermediates: true });
      const w = res.intermediates!.weightTargets;
      expect(w.length).toBe(pos.length);
      pos.forEach((row, k) => {
        if (nanRows.has(row)) { expect(w[k], `positive ${k}`).toBeNaN(); return; }
        const m = Math.max(...cls.subarray(row * p.c, (row + 1) * p.c));
        expect(Math.abs(w[k] - 1 / (1 + Math.exp(-m))), `positive ${k}`).toBeLessThanOrEqual(2e-7);
      });
    });

    it('the positives found by one call are not changed by the next (smaller) call', () => {
      const big = gflProblem(8, { numImages: 2 }), small = gflProblem(9, { numImages: 1 });
      const first = g.gflHeadLossSync(big.input, { levels: LEVELS, numImages: 2, returnIntermediates: true }).intermediates!.posInds;
      const copy = Int32Array.from(first);
      const expected = big.input.labels.reduce((a: number[], l, i) => (l >= 0 && l < big.c ? [...a, i] : a), []);
      expect(Array.from(first)).toEqual(expected);
      g.gflHeadLossSync(small.input, { levels: LEVELS, numImages: 1, returnIntermediates: true });
      expect(first).toEqual(copy);
    });

    it('label weight 0 removes a row from QFL only; the box terms of a positive stay', () => {
      const p = gflProblem(7, { numImages: 1 });
      const lw = new Float32Array(p.input.labels.length).fill(0);
      const res = g.gflHeadLossSync({ ...p.input, labelWeights: lw }, { levels: LEVELS, numImages: 1 });
      expect(res.lossCls).toBe(0);
      expect(maxAbs(res.gradClsScore!)).toBe(0);
      const full = g.gflHeadLossSync(p.input, { levels: LEVELS, numImages: 1 });
      expect(res.lossBbox).toBe(full.lossBbox);
      expectSameValues(res.gradBboxPred, full.gradBboxPred, 'gradBboxPred');
    });

    it('preallocated gradients are filled (zero at negative rows) and returned', () => {
      const p = gflProblem(8, { numImages: 1 });
      const gradBboxPred = new Float32Array(p.input.bboxPred.length).fill(9);
      const gradClsScore = new Float32Array(p.input.clsScore.length);
      const res = g.gflHeadLossSync(p.input, { levels: LEVELS, numImages: 1, out: { gradBboxPred, gradClsScore } });
      expect(res.gradBboxPred).toBe(gradBboxPred);
      expect(res.gradClsScore).toBe(gradClsScore);
      const plain = g.gflHeadLossSync(p.input, { levels: LEVELS, numImages: 1 });
      expectSameValues(gradBboxPred, plain.gradBboxPred, 'gradBboxPred');
    });

    it('bad input names the argument and leaves the instance usable', () => {
      const p = gflProblem(9, { numImages: 1 });
      const o = { levels: LEVELS, numImages: 1 };
      expectInputError(() => g.gflHeadLossSync({ ...p.input, bboxPred: new Float32Array(5) }, o), 'input.bboxPred');
      expectInputError(() => g.gflHeadLossSync({ ...p.input, labels: new Float32Array(p.input.labels.length) as unknown as Int32Array }, o), 'input.labels');
      expectInputError(() => g.gflHeadLossSync({ ...p.input, anchors: new Float32Array(3) }, o), 'input.anchors');
      expectInputError(() => g.gflHeadLossSync({ ...p.input, labelWeights: new Float32Array(p.input.labels.length).fill(NaN) }, o), 'input.labelWeights');
      const bad = new Float32Array(p.input.bboxTargets);
      const first = p.input.labels.findIndex((l) => l >= 0 && l < p.c);
      bad[4 * first] = Infinity;
      expectInputError(() => g.gflHeadLossSync({ ...p.input, bboxTargets: bad }, o), 'input.bboxTargets');
      // a positive row's stride and anchor box are checked (and named by row) before any kernel writes an output
      const out = { gradClsScore: new Float32Array(p.input.clsScore.length).fill(5), gradBboxPred: new Float32Array(p.input.bboxPred.length).fill(5) };
      const last = p.input.labels.length - 1 - [...p.input.labels].reverse().findIndex((l) => l >= 0 && l < p.c);
      const zeroStride = new Float32Array(p.input.stride);
      zeroStride[last] = 0;
      expect(() => g.gflHeadLossSync({ ...p.input, stride: zeroStride }, { ...o, out })).toThrow(`positive row ${last}`);
      const nanAnchor = new Float32Array(p.input.anchors);
      nanAnchor[4 * last + 3] = NaN;
      expect(() => g.gflHeadLossSync({ ...p.input, anchors: nanAnchor }, { ...o, out })).toThrow(`positive row ${last}`);
      expectInputError(() => g.gflHeadLossSync({ ...p.input, anchors: nanAnchor }, o), 'input.anchors');
      expect(out.gradClsScore.every((v) => v === 5) && out.gradBboxPred.every((v) => v === 5)).toBe(true);
      // the same on a row that is not a positive: not read, no error
      const negative = p.input.labels.findIndex((l) => !(l >= 0 && l < p.c));
      const quiet = new Float32Array(p.input.stride);
      quiet[negative] = 0;
      expect(Number.isFinite(g.gflHeadLossSync({ ...p.input, stride: quiet }, o).loss)).toBe(true);
      expectInputError(() => g.gflHeadLossSync(p.input, { ...o, bins: 1 }), 'options.bins');
      expectInputError(() => g.gflHeadLossSync(p.input, { ...o, levels: [[4, 4]] }), 'options.levels');
      expectInputError(() => g.gflHeadLossSync(p.input, { ...o, lossWeight: { giou: 2 } as never }), 'options.lossWeight.giou');
      expectInputError(() => g.gflHeadLossSync(p.input, { ...o, returnPerLevel: true, levels: undefined }), 'options.returnPerLevel');
      expectInputError(() => g.gflHeadLossSync(p.input, { ...o, foo: 1 } as never), 'options.foo');
      expectInputError(() => g.gflHeadLossSync(p.input, { numImages: 2 }), 'options.levels');
      expect(Number.isFinite(g.gflHeadLossSync(p.input, o).loss)).toBe(true);
    });
  });

  describe(`YOLOv8 loss [${backend}]`, () => {
    const g: Gfl = gfl(backend);

    it('matches the float64 reference; levels + strides and explicit anchor points agree', () => {
      const p = yoloProblem(21);
      const res = g.yoloV8LossSync(p.input, { levels: LEVELS, strides: STRIDES, batchSize: p.batch });
      const ref = yoloV8Reference(p.input, { anchorPoints: p.points, strideTensor: p.strides, batchSize: p.batch });
      close(res.lossBox, ref.lossBox); close(res.lossCls, ref.lossCls); close(res.lossDfl, ref.lossDfl); close(res.loss, ref.loss);
      close(res.lossItems[0] * p.batch, res.lossBox, 1e-12, 0);
      const b = g.yoloV8LossSync(p.input, { anchorPoints: p.points, strideTensor: p.strides, batchSize: p.batch });
      expect(b.loss).toBe(res.loss);
      expectSameValues(b.gradPredDistri, res.gradPredDistri, 'gradPredDistri');
    });

    it('finite differences (CIoU α held fixed, as upstream): pred_scores and pred_distri', () => {
      const p = yoloProblem(22, 3, 1);
      const res = g.yoloV8LossSync(p.input, { levels: LEVELS, strides: STRIDES, batchSize: 1 });
      const base = { anchorPoints: p.points, strideTensor: p.strides, batchSize: 1 };
      const alpha = yoloV8Reference(p.input, base).alpha;
      const f = (inp: YoloV8Input) => yoloV8Reference(inp, { ...base, alpha }).loss;
      const r = rng(23);
      const pick = (n: number, k: number) => Array.from({ length: k }, () => Math.floor(r() * n));
      fd(p.input.predScores, res.gradPredScores!, (x) => f({ ...p.input, predScores: x }), 1e-2, pick(p.input.predScores.length, 30), 2e-3);
      const fgRows = [...p.input.fgMask].flatMap((m, i) => (m ? [i] : []));
      const idx = pick(60, 60).map((k) => fgRows[k % fgRows.length] * 64 + Math.floor(r() * 64));
      fd(p.input.predDistri, res.gradPredDistri!, (x) => f({ ...p.input, predDistri: x }), 1e-2, idx, 2e-3);
    });

    it('no foreground: box and DFL 0 with zero gradient; cls normalised by max(Σ target_scores, 1)', () => {
      const p = yoloProblem(24);
      const input = { ...p.input, fgMask: new Uint8Array(p.input.fgMask.length), targetScores: new Float32Array(p.input.targetScores.length) };
      const res = g.yoloV8LossSync(input, { levels: LEVELS, strides: STRIDES, batchSize: p.batch });
      expect(res.lossBox).toBe(0);
      expect(res.lossDfl).toBe(0);
      expect(res.targetScoresSum).toBe(1);
      expect(maxAbs(res.gradPredDistri!)).toBe(0);
      close(res.lossCls, yoloV8Reference(input, { anchorPoints: p.points, strideTensor: p.strides, batchSize: p.batch }).lossCls);
    });

    it('bad input names the argument', () => {
      const p = yoloProblem(25);
      const o = { levels: LEVELS, strides: STRIDES, batchSize: p.batch };
      expectInputError(() => g.yoloV8LossSync({ ...p.input, fgMask: [1, 0] as unknown as Uint8Array }, o), 'input.fgMask');
      expectInputError(() => g.yoloV8LossSync({ ...p.input, predDistri: new Float32Array(7) }, o), 'input.predDistri');
      expectInputError(() => g.yoloV8LossSync({ ...p.input, targetScores: new Float32Array(p.input.targetScores.length).fill(2) }, o), 'input.targetScores');
      expectInputError(() => g.yoloV8LossSync(p.input, { batchSize: p.batch }), 'options.levels');
      expectInputError(() => g.yoloV8LossSync(p.input, { ...o, strides: [8] }), 'options.strides');
      expectInputError(() => g.yoloV8LossSync(p.input, { ...o, gains: { iou: 1 } as never }), 'options.gains.iou');
      expectInputError(() => g.yoloV8LossSync(p.input, { ...o, batchSize: 3 }), 'input.fgMask');
      expect(Number.isFinite(g.yoloV8LossSync(p.input, o).loss)).toBe(true);
    });
  });
}
