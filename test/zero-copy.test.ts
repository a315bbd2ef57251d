// allocate(): inputs read in place and outputs written in place, with results equal to the copying path; views that
// survive memory growth (shared memory); overlap rejected by name; plain-memory backends refuse.
import { describe, it, expect } from 'vitest';
import { createGfl, createGflSync, GflInputError } from '../dist/index.js';
import { rng, uniform, expectSameValues } from './helpers.js';

function problem(r: () => number, n: number, c: number) {
  const pred = uniform(r, n * c, -6, 3);
  const label = Int32Array.from({ length: n }, () => (r() < 0.2 ? Math.floor(r() * c) : c));
  const score = uniform(r, n, 0, 1);
  return { pred, label, score };
}

/** Every row of `grad` (rows of `width`) listed in `rows` holds a non-zero value; every other row is all zeros. */
function expectNonzeroRowsAt(grad: Float32Array, width: number, rows: number[]) {
  for (let i = 0; i < grad.length / width; i++) {
    const row = grad.subarray(i * width, (i + 1) * width);
    if (rows.includes(i)) expect(row.some((v) => v !== 0), `row ${i}`).toBe(true);
    else expect(row.every((v) => v === 0), `row ${i}`).toBe(true);
  }
}

describe('zero-copy buffers (allocate)', () => {
  for (const threads of [1, 2]) {
    it(`threads ${threads}: same results as copying, outputs written in place, views survive growth`, async () => {
      const g = await createGfl({ backend: 'wasm-simd-threads', threads });
      try {
        const r = rng(5);
        const n = 3000, c = 80;
        const p = problem(r, n, c);
        const pred = g.allocate(n * c), label = g.allocate(n, 'int32'), score = g.allocate(n);
        const gradPred = g.allocate(n * c), gradScore = g.allocate(n);
        pred.set(p.pred); label.set(p.label); score.set(p.score);
        const ref = createGflSync({ backend: 'wasm-simd' }).qualityFocalLossSync(p, { avgFactor: 150 });
        await g.qualityFocalLoss(problem(r, 20000, 80)); // grows the shared memory: the views stay valid
        for (let step = 0; step < 3; step++) {
          const res = await g.qualityFocalLoss({ pred, label, score }, { avgFactor: 150, out: { gradPred, gradScore } });
          expect(res.loss).toBe(ref.loss);
          expect(res.gradPred).toBe(gradPred);
          expect(res.gradScore).toBe(gradScore);
          expectSameValues(gradPred, ref.gradPred, 'gradPred');
          const sync = g.qualityFocalLossSync({ pred, label, score }, { avgFactor: 150, out: { gradPred, gradScore } });
          expect(sync.loss).toBe(ref.loss);
        }
      } finally {
        await g.dispose();
      }
    });
  }

  for (const threads of [1, 2]) {
    it(`threads ${threads}: the GFL head loss reads zero-copy logits in place (positives gathered in wasm), same bits as copying`, async () => {
      const g = await createGfl({ backend: 'wasm-simd-threads', threads });
      try {
        const r = rng(11);
        const h = 40, w = 50, n = h * w * 2, c = 20, bins = 17, s = 8;
        const anchors = new Float32Array(4 * n), stride = new Float32Array(n).fill(s), labels = new Int32Array(n).fill(c);
        const bboxTargets = new Float32Array(4 * n), labelWeights = new Float32Array(n).fill(1);
        for (let i = 0; i < n; i++) {
          const cx = (i % w) * s, cy = Math.floor(i / w) % h * s;
          anchors.set([cx - 4 * s, cy - 4 * s, cx + 4 * s, cy + 4 * s], 4 * i);
          if (r() < 0.3) {
            labels[i] = Math.floor(r() * c);
            bboxTargets.set([cx - s * (0.5 + 9 * r()), cy - s * (0.5 + 9 * r()), cx + s * (0.5 + 9 * r()), cy + s * (0.5 + 9 * r())], 4 * i);
          }
        }
        // half the rows' class logits far below zero: quality weights over many magnitudes, so that Σ w, summed in blocks,
        // would round differently if the zero-copy path cut the positives into other blocks
        const clsScore = uniform(r, n * c, -6, 3);
        for (let i = 0; i < n; i += 2) for (let j = 0; j < c; j++) clsScore[i * c + j] = -40 + 25 * r();
        const input = { clsScore, bboxPred: uniform(r, n * 4 * bins, -3, 3), anchors, stride, labels, labelWeights, bboxTargets };
        const opts = { numClasses: c, bins, levels: [[h, w]] as Array<[number, number]>, numImages: 2 };
        const ref = await g.gflHeadLoss(input, opts);
        const clsIn = g.allocate(n * c), bboxPred = g.allocate(n * 4 * bins);
        const gradClsScore = g.allocate(n * c), gradBboxPred = g.allocate(n * 4 * bins);
        clsIn.set(input.clsScore); bboxPred.set(input.bboxPred);
        for (const inPlace of [{ clsScore: clsIn }, { bboxPred }, { clsScore: clsIn, bboxPred }]) {
          gradBboxPred.fill(7); // stale values: every row must be written
          const res = await g.gflHeadLoss({ ...input, ...inPlace }, { ...opts, out: { gradClsScore, gradBboxPred } });
          expect([res.lossCls, res.lossBbox, res.lossDfl]).toEqual([ref.lossCls, ref.lossBbox, ref.lossDfl]);
          expect(res.gradBboxPred).toBe(gradBboxPred);
          expectSameValues(gradClsScore, ref.gradClsScore, 'gradClsScore');
          expectSameValues(gradBboxPred, ref.gradBboxPred, 'gradBboxPred');
        }
        // a NaN among a positive's class logits makes its quality weight NaN on both paths
        const k = labels.findIndex((v) => v < c);
        clsIn[k * c + 3] = NaN;
        const withNaN = { ...input, clsScore: Float32Array.from(clsIn) };
        expect((await g.gflHeadLoss(withNaN, opts)).lossBbox).toBeNaN();
        expect((await g.gflHeadLoss({ ...input, clsScore: clsIn }, opts)).lossBbox).toBeNaN();
      } finally {
        await g.dispose();
      }
    });
  }

  it('dense box gradients written in place: positives at the first and last rows and side by side, stale rows zeroed (GFL and YOLOv8)', async () => {
    const g = await createGfl({ backend: 'wasm-simd-threads', threads: 2 });
    try {
      const r = rng(13);
      // GFL head: one level of 6 × 7 anchors, positives at rows 0, 1, 2, 20, 40 and 41 (the last)
      const h = 6, w = 7, n = h * w, c = 4, bins = 17, s = 8, positives = [0, 1, 2, 20, 40, 41];
      const anchors = new Float32Array(4 * n), labels = new Int32Array(n).fill(c), bboxTargets = new Float32Array(4 * n);
      for (let i = 0; i < n; i++) {
        const cx = (i % w) * s, cy = Math.floor(i / w) * s;
        anchors.set([cx - 4 * s, cy - 4 * s, cx + 4 * s, cy + 4 * s], 4 * i);
        bboxTargets.set([cx - s * (0.5 + 9 * r()), cy - s * (0.5 + 9 * r()), cx + s * (0.5 + 9 * r()), cy + s * (0.5 + 9 * r())], 4 * i);
      }
      for (const i of positives) labels[i] = i % c;
      const input = {
        clsScore: uniform(r, n * c, -6, 3), bboxPred: uniform(r, n * 4 * bins, -3, 3), anchors,
        stride: new Float32Array(n).fill(s), labels, labelWeights: new Float32Array(n).fill(1), bboxTargets,
      };
      const opts = { numClasses: c, bins, levels: [[h, w]] as Array<[number, number]>, numImages: 1 };
      const ref = await g.gflHeadLoss(input, opts);
      const gradBboxPred = g.allocate(n * 4 * bins).fill(7); // stale values in every row
      const res = await g.gflHeadLoss(input, { ...opts, out: { gradBboxPred } });
      expect(res.gradBboxPred).toBe(gradBboxPred);
      expectSameValues(gradBboxPred, ref.gradBboxPred, 'gradBboxPred');
      expectNonzeroRowsAt(gradBboxPred, 4 * bins, positives);

      // YOLOv8: one image of 5 × 6 points, foreground at points 0, 1, 13 and 29 (the last)
      const yh = 5, yw = 6, a = yh * yw, nc = 3, ybins = 16, fgRows = [0, 1, 13, 29];
      const fgMask = new Uint8Array(a), targetScores = new Float32Array(a * nc), targetBboxes = new Float32Array(a * 4);
      for (const i of fgRows) {
        fgMask[i] = 1;
        targetScores[i * nc + (i % nc)] = 0.2 + 0.7 * r();
        const cx = ((i % yw) + 0.5) * s, cy = (Math.floor(i / yw) + 0.5) * s;
        targetBboxes.set([cx - s * (0.5 + 4 * r()), cy - s * (0.5 + 4 * r()), cx + s * (0.5 + 4 * r()), cy + s * (0.5 + 4 * r())], 4 * i);
      }
      const yInput = { predScores: uniform(r, a * nc, -4, 2), predDistri: uniform(r, a * 4 * ybins, -3, 3), targetBboxes, targetScores, fgMask };
      const yOpts = { levels: [[yh, yw]] as Array<[number, number]>, strides: [s], batchSize: 1 };
      const yRef = await g.yoloV8Loss(yInput, yOpts);
      const gradPredDistri = g.allocate(a * 4 * ybins).fill(-3);
      const yRes = await g.yoloV8Loss(yInput, { ...yOpts, out: { gradPredDistri } });
      expect(yRes.gradPredDistri).toBe(gradPredDistri);
      expectSameValues(gradPredDistri, yRef.gradPredDistri, 'gradPredDistri');
      expectNonzeroRowsAt(gradPredDistri, 4 * ybins, fgRows);
    } finally {
      await g.dispose();
    }
  });

  it('step() with zero-copy logits and gradients gives the copying path\'s bits (2 threads)', async () => {
    const g = await createGfl({ backend: 'wasm-simd-threads', threads: 2 });
    try {
      const r = rng(12);
      const B = 2, C = 6, S = 320, rows = B * [8, 16, 32, 64, 128].reduce((a, s) => a + Math.ceil(S / s) ** 2, 0);
      const gtBoxes = [0, 1].map(() => Float32Array.from({ length: 12 }, (_, k) => (k % 4 < 2 ? 20 + r() * 100 : 150 + r() * 150)));
      const gtLabels = [0, 1].map(() => Int32Array.from({ length: 3 }, () => Math.floor(r() * C)));
      const input = { clsLogits: uniform(r, rows * C, -6, 2), regLogits: uniform(r, rows * 68, -3, 3), gtBoxes, gtLabels, imageSize: [S, S] as [number, number] };
      const ref = await g.step(input, { numClasses: C });
      const clsLogits = g.allocate(rows * C), regLogits = g.allocate(rows * 68);
      clsLogits.set(input.clsLogits); regLogits.set(input.regLogits);
      const out = { gradClsScore: g.allocate(rows * C), gradBboxPred: g.allocate(rows * 68) };
      const res = await g.step({ ...input, clsLogits, regLogits }, { numClasses: C, out });
      expect(res.numPos).toBeGreaterThan(0);
      expect([res.lossCls, res.lossBbox, res.lossDfl]).toEqual([ref.lossCls, ref.lossBbox, ref.lossDfl]);
      expect(res.gradBboxPred).toBe(out.gradBboxPred);
      expectSameValues(out.gradClsScore, ref.gradClsScore, 'gradClsScore');
      expectSameValues(out.gradBboxPred, ref.gradBboxPred, 'gradBboxPred');
    } finally {
      await g.dispose();
    }
  });

  it('rejects an output that overlaps an input by name, and refuses on plain memory', async () => {
    const g = await createGfl({ backend: 'wasm-simd-threads', threads: 1 });
    try {
      const p = problem(rng(4), 64, 8);
      const pred = g.allocate(64 * 8);
      pred.set(p.pred);
      let err: unknown;
      try { g.qualityFocalLossSync({ pred, label: p.label, score: p.score }, { out: { gradPred: pred } }); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(GflInputError);
      expect((err as GflInputError).argument).toBe('options.out');
      expect(() => g.allocate(-1)).toThrow(GflInputError);
      expect(() => createGflSync({ backend: 'wasm-simd' }).allocate(10)).toThrow(/shared memory/);
    } finally {
      await g.dispose();
    }
  });
});
