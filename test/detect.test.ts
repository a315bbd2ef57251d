// Assignment, decode and NMS beyond the goldens: NMS against a plain float32 reference and its invariants, ATSS and
// task-aligned assignment invariants on random scenes, the tie rule, anchors, decode, and bad input.
import { describe, it, expect } from 'vitest';
import { gflAnchors, anchorPoints, anchorValidFlags, GflInputError, type Gfl } from '../dist/index.js';
import { backends, gfl, rng, uniform } from './helpers.js';

const fr = Math.fround;

/** `count` boxes with sides minSide + U[0, span) placed at random inside [0, extent)², float32 corners. */
function boxesInside(r: () => number, count: number, minSide: number, span: number, extent: number): Float32Array {
  const out = new Float32Array(count * 4);
  for (let i = 0; i < count; i++) {
    const w = minSide + r() * span, h = minSide + r() * span, x = r() * (extent - w), y = r() * (extent - h);
    out.set([x, y, x + w, y + h].map(fr), i * 4);
  }
  return out;
}

/** torchvision's greedy NMS in float32 (Math.fround), on offset boxes, with a stable descending sort. */
function refNms(boxes: Float32Array, scores: Float32Array, labels: Int32Array | null, scale: number, thr: number): number[] {
  const n = scores.length;
  const b = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const off = labels ? fr(labels[i] * scale) : 0;
    for (let k = 0; k < 4; k++) b[i * 4 + k] = fr(boxes[i * 4 + k] + off);
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((p, q) => scores[q] - scores[p] || p - q);
  const area = (i: number) => fr(fr(b[i * 4 + 2] - b[i * 4]) * fr(b[i * 4 + 3] - b[i * 4 + 1]));
  const sup = new Uint8Array(n), keep: number[] = [];
  for (let a = 0; a < n; a++) {
    const i = order[a];
    if (sup[i]) continue;
    keep.push(i);
    for (let c = a + 1; c < n; c++) {
      const j = order[c];
      if (sup[j]) continue;
      const w = Math.max(0, fr(Math.min(b[i * 4 + 2], b[j * 4 + 2]) - Math.max(b[i * 4], b[j * 4])));
      const h = Math.max(0, fr(Math.min(b[i * 4 + 3], b[j * 4 + 3]) - Math.max(b[i * 4 + 1], b[j * 4 + 1])));
      const inter = fr(w * h);
      const iou = fr(inter / fr(fr(area(i) + area(j)) - inter));
      if (iou > thr) sup[j] = 1;
    }
  }
  return keep;
}

function iou(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number, stride = 4): number {
  const w = Math.max(0, Math.min(a[i * stride + 2], b[j * stride + 2]) - Math.max(a[i * stride], b[j * stride]));
  const h = Math.max(0, Math.min(a[i * stride + 3], b[j * stride + 3]) - Math.max(a[i * stride + 1], b[j * stride + 1]));
  const inter = w * h;
  const ar = (a[i * stride + 2] - a[i * stride]) * (a[i * stride + 3] - a[i * stride + 1]);
  const br = (b[j * stride + 2] - b[j * stride]) * (b[j * stride + 3] - b[j * stride + 1]);
  return inter / (ar + br - inter);
}

function randomBoxes(r: () => number, n: number, size = 100): Float32Array {
  const out = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const x = r() * size, y = r() * size, w = 2 + r() * size / 3, h = 2 + r() * size / 3;
    out.set([x, y, x + w, y + h].map(fr), i * 4);
  }
  return out;
}

for (const backend of backends()) {
  describe(`NMS [${backend}]`, () => {
    it('batchedNms equals a float32 torchvision reference and keeps no pair above the threshold within a class', () => {
      const g = gfl(backend);
      for (let s = 0; s < 20; s++) {
        const r = rng(100 + s);
        const n = 5 + Math.floor(r() * 200);
        const boxes = randomBoxes(r, n);
        // quantised scores make exact ties common: the stable order must decide them
        const scores = Float32Array.from({ length: n }, () => Math.round(r() * 20) / 20);
        const idxs = Int32Array.from({ length: n }, () => Math.floor(r() * 4));
        const thr = [0.3, 0.5, 0.6, 0.7][s % 4];
        const res = g.batchedNmsSync({ boxes, scores, idxs }, { iouThreshold: thr, returnBoxesForNms: true });
        let max = -Infinity;
        for (const v of boxes) max = Math.max(max, v);
        expect(Array.from(res.keep)).toEqual(refNms(boxes, scores, idxs, fr(max + 1), thr));
        for (let a = 0; a < res.keep.length; a++) {
          if (a > 0) expect(res.dets[a * 5 + 4]).toBeLessThanOrEqual(res.dets[(a - 1) * 5 + 4]);
          for (let b = a + 1; b < res.keep.length; b++) {
            const i = res.keep[a], j = res.keep[b];
            if (idxs[i] === idxs[j]) expect(iou(res.boxesForNms!, i, res.boxesForNms!, j)).toBeLessThanOrEqual(thr);
          }
        }
        // every suppressed box overlaps a kept box of its class that comes first
        const kept = new Set(res.keep);
        const rank = (i: number) => res.keep.indexOf(i);
        for (let j = 0; j < n; j++) {
          if (kept.has(j)) continue;
          const by = Array.from(res.keep).some((i) => idxs[i] === idxs[j] && iou(res.boxesForNms!, i, res.boxesForNms!, j) > thr && rank(i) >= 0);
          expect(by).toBe(true);
        }
      }
    });

    it('identical boxes with identical scores keep the lowest index; identical zero-area boxes are both kept', () => {
      const g = gfl(backend);
      const boxes = Float32Array.from([0, 0, 10, 10, 0, 0, 10, 10, 0, 0, 10, 10, 5, 5, 5, 5, 5, 5, 5, 5]);
      const scores = Float32Array.from([0.5, 0.9, 0.9, 0.3, 0.3]);
      const r = g.batchedNmsSync({ boxes, scores, idxs: new Int32Array(5) }, { iouThreshold: 0.5 });
      expect(Array.from(r.keep)).toEqual([1, 3, 4]);
    });

    it('IoU is compared with the threshold as a double: 0.6f suppresses at 0.6', () => {
      const g = gfl(backend);
      // IoU = 60/100 exactly in float32 → 0.6000000238 > 0.6
      const boxes = Float32Array.from([0, 0, 10, 10, 0, 0, 10, 8, 0, 0, 10, 10, 0, 0, 10, 7]);
      const r = g.batchedNmsSync({ boxes, scores: Float32Array.from([0.9, 0.8, 0.7, 0.6]), idxs: Int32Array.from([0, 0, 1, 1]) }, { iouThreshold: 0.6 });
      // pair (2,3): IoU 70/100 = 0.69999999 > 0.6 too; pair (0,1): 80/100 — both suppressed
      expect(Array.from(r.keep)).toEqual([0, 2]);
      const r2 = g.batchedNmsSync({ boxes: Float32Array.from([0, 0, 10, 10, 0, 0, 6, 10]), scores: Float32Array.from([0.9, 0.8]), idxs: new Int32Array(2) }, { iouThreshold: 0.6 });
      expect(Array.from(r2.keep)).toEqual([0]);
    });

    it('multiclassNms: candidates above score_thr (float32), per-class suppression, max_num cut', () => {
      const g = gfl(backend);
      const r = rng(7);
      const n = 40, c = 5;
      const bboxes = randomBoxes(r, n);
      const scores = uniform(r, n * (c + 1), 0, 0.3);
      const res = g.multiclassNmsSync({ bboxes, scores }, { scoreThr: 0.05, iouThreshold: 0.5, maxNum: 30, intermediates: true });
      expect(res.dets.length / 5).toBeLessThanOrEqual(30);
      for (let k = 0; k < res.labels.length; k++) {
        const i = Math.floor(res.inds[k] / c);
        expect(res.inds[k] % c).toBe(res.labels[k]);
        expect(res.dets[k * 5 + 4]).toBe(scores[i * (c + 1) + res.labels[k]]);
        expect(res.dets[k * 5 + 4]).toBeGreaterThan(0.05);
      }
      expect(res.intermediates!.nmsInScores.every((s) => s > fr(0.05))).toBe(true);
    });

    it('yoloNms: agnostic and class-aware agree with the reference; max_det cuts', () => {
      const g = gfl(backend);
      const r = rng(11);
      const A = 300, nc = 3;
      const pred = new Float32Array((4 + nc) * A);
      for (let a = 0; a < A; a++) {
        pred[a] = fr(r() * 200); pred[A + a] = fr(r() * 200); pred[2 * A + a] = fr(5 + r() * 40); pred[3 * A + a] = fr(5 + r() * 40);
        for (let k = 0; k < nc; k++) pred[(4 + k) * A + a] = fr(r());
      }
      for (const agnostic of [false, true]) {
        const [im] = g.yoloNmsSync({ prediction: pred }, { numClasses: nc, confThres: 0.5, iouThres: 0.45, agnostic, maxDet: 1000 });
        // reference: best class per anchor above conf
        const cand: number[] = [];
        const boxes: number[] = [], sc: number[] = [], cls: number[] = [];
        for (let a = 0; a < A; a++) {
          let best = pred[4 * A + a], bc = 0;
          for (let k = 1; k < nc; k++) if (pred[(4 + k) * A + a] > best) { best = pred[(4 + k) * A + a]; bc = k; }
          if (!(best > fr(0.5))) continue;
          const hw = fr(pred[2 * A + a] / 2), hh = fr(pred[3 * A + a] / 2);
          boxes.push(fr(pred[a] - hw), fr(pred[A + a] - hh), fr(pred[a] + hw), fr(pred[A + a] + hh));
          sc.push(best); cls.push(bc); cand.push(a);
        }
        const keep = refNms(Float32Array.from(boxes), Float32Array.from(sc), agnostic ? null : Int32Array.from(cls), 7680, 0.45);
        expect(Array.from(im.keep)).toEqual(keep.map((i) => cand[i]));
        const [cut] = g.yoloNmsSync({ prediction: pred }, { numClasses: nc, confThres: 0.5, iouThres: 0.45, agnostic, maxDet: 3 });
        expect(Array.from(cut.keep)).toEqual(keep.slice(0, 3).map((i) => cand[i]));
      }
    });
  });

  describe(`assignment [${backend}]`, () => {
    it('ATSS targets: the batched path (all images in one call) and the image-by-image path give the same targets', () => {
      // without intermediates and with every anchor valid, all images go to the kernel in one call (one image per
      // block); asking for intermediates takes the image-by-image path
      const g = gfl(backend);
      for (let s = 0; s < 4; s++) {
        const r = rng(900 + s);
        const B = 1 + s * 2;
        const numGts = Int32Array.from({ length: B }, (_, b) => (b === 1 ? 0 : 1 + Math.floor(r() * 12)));
        const total = numGts.reduce((a, v) => a + v, 0);
        const gtBboxes = boxesInside(r, total, 2, 200, 256);
        const gtLabels = Int32Array.from({ length: total }, () => Math.floor(r() * 7));
        const opts = { numClasses: 7, padShape: [256, 256] as [number, number] };
        const batched = g.atssTargetsSync({ gtBboxes, gtLabels, numGts }, opts);
        const single = g.atssTargetsSync({ gtBboxes, gtLabels, numGts }, { ...opts, intermediates: true });
        expect(Array.from(batched.labels)).toEqual(Array.from(single.labels));
        expect(Array.from(batched.labelWeights)).toEqual(Array.from(single.labelWeights));
        expect(Array.from(batched.bboxTargets)).toEqual(Array.from(single.bboxTargets));
        expect(Array.from(batched.bboxWeights)).toEqual(Array.from(single.bboxWeights));
        expect(batched.avgFactor).toBe(single.avgFactor);
        batched.images.forEach((im, b) => {
          expect(Array.from(im.assignedGtInds)).toEqual(Array.from(single.images[b].assignedGtInds));
          expect(Array.from(im.maxOverlaps)).toEqual(Array.from(single.images[b].maxOverlaps));
          expect(Array.from(im.posInds)).toEqual(Array.from(single.images[b].posInds));
          expect(im.intermediates).toBeUndefined();
        });
      }
    });

    it('ATSS: positives are candidates inside their gt with IoU ≥ thr, assigned to the highest-IoU gt; no gts → all negative', () => {
      const g = gfl(backend);
      for (let s = 0; s < 6; s++) {
        const r = rng(500 + s);
        const B = 3;
        const numGts = Int32Array.from({ length: B }, (_, b) => (b === 2 ? 0 : 1 + Math.floor(r() * 8)));
        const total = numGts.reduce((a, v) => a + v, 0);
        const gtBboxes = boxesInside(r, total, 4, 150, 256);
        const gtLabels = Int32Array.from({ length: total }, () => Math.floor(r() * 5));
        const res = g.atssTargetsSync({ gtBboxes, gtLabels, numGts }, { numClasses: 5, padShape: [[256, 256], [256, 192], [256, 256]], intermediates: true });
        const N = res.anchors.length / 4;
        let off = 0, af = 0;
        res.images.forEach((im, b) => {
          const G = numGts[b];
          af += Math.max(im.posInds.length, 1);
          if (G === 0) {
            expect(im.posInds.length).toBe(0);
            expect(im.maxOverlaps.every((v) => v === 0)).toBe(true);
          } else {
            const it = im.intermediates!;
            for (const i of im.posInds) {
              const j = im.assignedGtInds[i] - 1;
              expect(it.isCandidate[i * G + j]).toBe(1);
              expect(it.overlaps[i * G + j]).toBeGreaterThanOrEqual(it.overlapsThr[j]);
              expect(im.maxOverlaps[i]).toBe(it.overlaps[i * G + j]);
              for (let k = 0; k < G; k++) if (it.isPos[i * G + k]) expect(it.overlaps[i * G + k] <= it.overlaps[i * G + j]).toBe(true);
              expect(im.assignedLabels![i]).toBe(gtLabels[off + j]);
            }
            // per gt and level at most topk candidates
            for (let j = 0; j < G; j++) {
              let start = 0;
              for (const nl of im.numLevelAnchorsInside) {
                let c = 0;
                for (let i = start; i < start + nl; i++) c += it.isCandidate[i * G + j];
                expect(c).toBe(Math.min(9, nl));
                start += nl;
              }
            }
          }
          // batch layout: valid anchors weigh 1, labels background except positives
          let valid = 0;
          for (let i = 0; i < N; i++) valid += res.validFlags[b * N + i];
          expect(valid).toBe(im.assignedGtInds.length);
          off += G;
        });
        expect(res.avgFactor).toBe(af);
        let w = 0;
        for (const v of res.labelWeights) w += v;
        expect(w).toBe(res.images.reduce((a, im) => a + im.assignedGtInds.length, 0));
      }
    });

    it('ATSS candidates are the topk nearest anchors per level by (float32 distance, anchor index), on tie-heavy and random scenes', () => {
      const g = gfl(backend);
      for (let s = 0; s < 8; s++) {
        const r = rng(900 + s);
        const G = 1 + Math.floor(r() * 12);
        const gtBboxes = new Float32Array(G * 4);
        for (let j = 0; j < G; j++) {
          const w = 4 + r() * 300, h = 4 + r() * 300;
          // half of the scenes put the centres on multiples of 4 px: equidistant from many grid anchors (stride ≥ 8)
          const cx = s % 2 ? 4 * Math.round(r() * 160) : r() * 640, cy = s % 2 ? 4 * Math.round(r() * 160) : r() * 640;
          gtBboxes.set([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2].map(fr), j * 4);
        }
        const res = g.atssTargetsSync({ gtBboxes, gtLabels: new Int32Array(G), numGts: [G] }, { numClasses: 1, padShape: [[640, 640]], intermediates: true });
        const it = res.images[0].intermediates!;
        for (let j = 0; j < G; j++) {
          let start = 0;
          for (const nl of res.images[0].numLevelAnchorsInside) {
            const order = Array.from({ length: nl }, (_, k) => start + k)
              .sort((p, q) => it.distances[p * G + j] - it.distances[q * G + j] || p - q);
            const want = new Set(order.slice(0, Math.min(9, nl)));
            for (let i = start; i < start + nl; i++) expect(it.isCandidate[i * G + j], `gt ${j} anchor ${i}`).toBe(want.has(i) ? 1 : 0);
            start += nl;
          }
        }
        // the fast path (no intermediates) assigns the same anchors
        const fast = g.atssTargetsSync({ gtBboxes, gtLabels: new Int32Array(G), numGts: [G] }, { numClasses: 1, padShape: [[640, 640]] });
        expect(Array.from(fast.images[0].assignedGtInds)).toEqual(Array.from(res.images[0].assignedGtInds));
      }
    });

    it('ATSS: distances that tie only after the square root still take the lower anchor index', () => {
      const g = gfl(backend);
      // centre distances² 8,401,034 and 8,401,033 round to the same float32 distance, 2898.4536: anchor 0 must win,
      // so no shortcut may drop it for having the larger squared distance
      const box = (cx: number, cy: number) => [cx - 5, cy - 5, cx + 5, cy + 5];
      const anchors = Float32Array.from([...box(2095, 2003), ...box(2877, 352)]);
      const r = g.atssAssignSync({ anchors, numLevelAnchors: [2], gtBboxes: Float32Array.from(box(0, 0)) }, { topk: 1, intermediates: true });
      expect(r.intermediates!.distances[0]).toBe(r.intermediates!.distances[1]);
      expect(Array.from(r.intermediates!.isCandidate)).toEqual([1, 0]);
    });

    it('ATSS tie rule: equal centre distances at the topk boundary take the lower anchor index', () => {
      const g = gfl(backend);
      // one level, a 1-D row of anchors centred at 0, 10, 20, …; a gt centred at 45 is equidistant from 40 and 50
      const n = 10;
      const anchors = new Float32Array(n * 4);
      for (let i = 0; i < n; i++) anchors.set([i * 10 - 5, -5, i * 10 + 5, 5], i * 4);
      const r = g.atssAssignSync({ anchors, numLevelAnchors: [n], gtBboxes: Float32Array.from([40, -5, 50, 5]) }, { topk: 1, intermediates: true });
      expect(Array.from(r.intermediates!.isCandidate)).toEqual([0, 0, 0, 0, 1, 0, 0, 0, 0, 0]);
    });

    it('task-aligned: foreground anchors lie inside their gt, padding gts get nothing, targets one-hot × norm', () => {
      const g = gfl(backend);
      const ap = anchorPoints({ featShapes: [[16, 16], [8, 8], [4, 4]], strides: [8, 16, 32] });
      const A = ap.strides.length;
      const pts = new Float32Array(A * 2);
      for (let a = 0; a < A; a++) { pts[2 * a] = fr(ap.points[2 * a] * ap.strides[a]); pts[2 * a + 1] = fr(ap.points[2 * a + 1] * ap.strides[a]); }
      let movedToUnlisted = 0; // anchors the argmax gives to a gt whose top-k did not list them
      for (let s = 0; s < 40; s++) {
        const r = rng(900 + s);
        const B = 2, M = 6, nc = 4;
        const pdScores = uniform(r, B * A * nc, 0, 1);
        const pdBboxes = new Float32Array(B * A * 4);
        for (let i = 0; i < B * A; i++) {
          const a = i % A, cx = pts[2 * a], cy = pts[2 * a + 1], w = 8 + r() * 60, h = 8 + r() * 60;
          pdBboxes.set([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2].map(fr), i * 4);
        }
        const gtBboxes = new Float32Array(B * M * 4), gtLabels = new Int32Array(B * M);
        for (let b = 0; b < B; b++) {
          const real = b === 0 ? M : 3;
          for (let m = 0; m < real; m++) {
            const w = 10 + r() * 80, h = 10 + r() * 80, x = r() * (128 - w), y = r() * (128 - h);
            gtBboxes.set([x, y, x + w, y + h].map(fr), (b * M + m) * 4);
            gtLabels[b * M + m] = Math.floor(r() * nc);
          }
        }
        const res = g.taskAlignedAssignSync({ pdScores, pdBboxes, anchorPoints: pts, gtLabels, gtBboxes }, { intermediates: true });
        const it = res.intermediates!;
        // the fast path (no intermediates: images in blocks) gives the same targets
        const fast = g.taskAlignedAssignSync({ pdScores, pdBboxes, anchorPoints: pts, gtLabels, gtBboxes });
        expect(Array.from(fast.targetScores)).toEqual(Array.from(res.targetScores));
        expect(Array.from(fast.targetGtIdx)).toEqual(Array.from(res.targetGtIdx));
        expect(fast.numFg).toBe(res.numFg);
        movedToUnlisted += checkTalAssignment(res, B, M, A);
        for (let b = 0; b < B; b++) {
          for (let m = 0; m < M; m++) {
            let before = 0;
            for (let a = 0; a < A; a++) before += it.maskPosBeforeHighest[(b * M + m) * A + a];
            expect(before).toBeLessThanOrEqual(10);
            if (b === 1 && m >= 3) expect(before).toBe(0);
          }
          for (let a = 0; a < A; a++) {
            const k = b * A + a;
            const j = res.targetGtIdx[k];
            let sum = 0;
            for (let c = 0; c < nc; c++) sum += res.targetScores[k * nc + c] !== 0 ? 1 : 0;
            if (res.fgMask[k]) {
              expect(it.maskPos[(b * M + j) * A + a]).toBe(1);
              expect(it.maskInGts[(b * M + j) * A + a]).toBe(1);
              expect(res.targetLabels[k]).toBe(gtLabels[b * M + j]);
              expect(sum).toBeLessThanOrEqual(1);
              expect(res.targetScores[k * nc + res.targetLabels[k]]).toBeLessThanOrEqual(1 + 1e-6);
            } else {
              expect(j).toBe(0);
              expect(sum).toBe(0);
              expect(res.targetLabels[k]).toBe(gtLabels[b * M]);
            }
          }
        }
      }
      expect(movedToUnlisted, 'scenes where the argmax picks a gt that did not list the anchor').toBeGreaterThan(0);
    });

    it('task-aligned: a gt whose only positives were moved to it by the argmax still normalises by them (topk 1)', () => {
      const g = gfl(backend);
      const ap = anchorPoints({ featShapes: [[16, 16], [8, 8]], strides: [8, 16] });
      const A = ap.strides.length, pts = new Float32Array(A * 2);
      for (let a = 0; a < A; a++) { pts[2 * a] = fr(ap.points[2 * a] * ap.strides[a]); pts[2 * a + 1] = fr(ap.points[2 * a + 1] * ap.strides[a]); }
      // scenes found by search: eight overlapping gts, topk 1, where some gt's positives all come from the argmax
      for (const seed of [5183, 5186]) {
        const r = rng(seed), M = 8, nc = 3;
        const pdScores = new Float32Array(A * nc).map(() => r());
        const pdBboxes = new Float32Array(A * 4);
        for (let a = 0; a < A; a++) {
          const cx = pts[2 * a], cy = pts[2 * a + 1], w = 8 + r() * 60, h = 8 + r() * 60;
          pdBboxes.set([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2].map(fr), a * 4);
        }
        const gtBboxes = new Float32Array(M * 4), gtLabels = new Int32Array(M);
        for (let m = 0; m < M; m++) {
          const w = 20 + r() * 60, h = 20 + r() * 60, x = 20 + r() * (60 - w / 2), y = 20 + r() * (60 - h / 2);
          gtBboxes.set([x, y, x + w, y + h].map(fr), m * 4);
          gtLabels[m] = Math.floor(r() * nc);
        }
        const res = g.taskAlignedAssignSync({ pdScores, pdBboxes, anchorPoints: pts, gtLabels, gtBboxes }, { topk: 1, intermediates: true });
        const it = res.intermediates!;
        const onlyMovedIn = Array.from({ length: M }, (_, m) => {
          let pos = 0, unlisted = 0;
          for (let a = 0; a < A; a++) if (it.maskPos[m * A + a]) { pos++; if (!it.maskPosBeforeHighest[m * A + a]) unlisted++; }
          return pos > 0 && pos === unlisted;
        });
        expect(onlyMovedIn.some((v) => v), `seed ${seed} holds the case`).toBe(true);
        expect(checkTalAssignment(res, 1, M, A)).toBeGreaterThan(0);
      }
    });

    it('task-aligned with no gt slots: labels = numClasses, nothing foreground', () => {
      const g = gfl(backend);
      const r = g.taskAlignedAssignSync({
        pdScores: new Float32Array(20 * 3).fill(0.5), pdBboxes: new Float32Array(20 * 4), anchorPoints: new Float32Array(40),
        gtLabels: new Int32Array(0), gtBboxes: new Float32Array(0),
      });
      expect(Array.from(r.targetLabels)).toEqual(new Array(20).fill(3));
      expect(r.numFg).toBe(0);
    });
  });

  describe(`step [${backend}]`, () => {
    it('step() = ATSS targets laid out level-major then image, fed to gflHeadLoss', () => {
      const g = gfl(backend);
      const r = rng(77);
      const B = 2, C = 3, S = 96;
      const strides = [8, 16, 32, 64, 128];
      const sizes = strides.map((st) => [Math.ceil(S / st), Math.ceil(S / st)] as [number, number]);
      const per = sizes.reduce((a, [h, w]) => a + h * w, 0), N = B * per;
      const cls = uniform(r, N * C, -3, 1), reg = uniform(r, N * 68, -2, 2);
      const gtBoxes = [Float32Array.from([10, 12, 50, 70, 40, 30, 90, 80]), Float32Array.from([5, 5, 30, 40])];
      const gtLabels = [Int32Array.from([0, 2]), Int32Array.from([1])];
      const res = g.stepSync({ clsLogits: cls, regLogits: reg, gtBoxes, gtLabels, imageSize: [S, S] }, { returnTargets: true });
      // the same by hand
      const t = g.atssTargetsSync({ gtBboxes: Float32Array.from([...gtBoxes[0], ...gtBoxes[1]]), gtLabels: Int32Array.from([0, 2, 1]), numGts: [2, 1] }, { numClasses: C, padShape: [S, S] });
      const labels = new Int32Array(N), lw = new Float32Array(N), bt = new Float32Array(N * 4), anchors = new Float32Array(N * 4), stride = new Float32Array(N);
      let row = 0, start = 0;
      sizes.forEach(([h, w], l) => {
        for (let b = 0; b < B; b++) for (let k = 0; k < h * w; k++, row++) {
          const src = b * per + start + k;
          labels[row] = t.labels[src]; lw[row] = t.labelWeights[src];
          bt.set(t.bboxTargets.subarray(src * 4, src * 4 + 4), row * 4);
          anchors.set(t.anchors.subarray((start + k) * 4, (start + k) * 4 + 4), row * 4);
          stride[row] = strides[l];
        }
        start += h * w;
      });
      const ref = g.gflHeadLossSync({ clsScore: cls, bboxPred: reg, anchors, stride, labels, labelWeights: lw, bboxTargets: bt },
        { numClasses: C, numImages: B, levels: sizes, avgFactor: t.avgFactor });
      expect(Array.from(res.targets!.labels)).toEqual(Array.from(labels));
      expect(res.loss).toBe(ref.loss);
      expect(res.lossCls).toBe(ref.lossCls);
      expect(res.lossBbox).toBe(ref.lossBbox);
      expect(res.lossDfl).toBe(ref.lossDfl);
      expect(res.gradClsScore).toEqual(ref.gradClsScore);
      expect(res.gradBboxPred).toEqual(ref.gradBboxPred);
      expect(res.numPos).toBeGreaterThan(0);
      // a second step with the same shapes reuses the layout and gives the same result
      const again = g.stepSync({ clsLogits: cls, regLogits: reg, gtBoxes, gtLabels, imageSize: [S, S] });
      expect(again.loss).toBe(res.loss);
    });
  });

  describe(`decode [${backend}]`, () => {
    it('gflPredict: one-hot distributions decode to integer distances times the stride, clamped; scores are sigmoids', () => {
      const g = gfl(backend);
      const sizes: Array<[number, number]> = [[4, 4], [2, 2], [1, 1], [1, 1], [1, 1]];
      const N = 16 + 4 + 3, C = 2, bins = 17;
      const cls = new Float32Array(N * C).fill(-10);
      const reg = new Float32Array(N * 4 * bins);
      for (let i = 0; i < N; i++) for (let s = 0; s < 4; s++) reg[(i * 4 + s) * bins + 2] = 200; // distance 2 bins
      cls[5 * C + 1] = 3; // anchor 5 = level 0 (x 1, y 1): centre (8, 8)
      const [im] = g.gflPredictSync({ clsScores: cls, bboxPreds: reg }, { featmapSizes: sizes, imgShape: [32, 32] });
      expect(im.scores.length).toBe(1);
      expect(Array.from(im.bboxes)).toEqual([0, 0, 24, 24]);
      expect(im.labels[0]).toBe(1);
      expect(im.anchorIdx[0]).toBe(5);
      expect(im.scores[0]).toBeCloseTo(1 / (1 + Math.exp(-3)), 6);
    });

    it('yoloDecode: xywh pixels from the DFL expectation at cell centres', () => {
      const g = gfl(backend);
      const A = 4, nc = 1, rm = 16;
      const x = new Float32Array((4 * rm + nc) * A);
      for (let a = 0; a < A; a++) for (let s = 0; s < 4; s++) x[(s * rm + 1) * A + a] = 100; // distance 1 per side
      const d = g.yoloDecodeSync({ xCat: x }, { featShapes: [[2, 2]], strides: [8] });
      // anchor 3: cell (1, 1), centre (1.5, 1.5) grid → (12, 12) px, w = h = 2 grid = 16 px
      expect([d.prediction[3], d.prediction[A + 3], d.prediction[2 * A + 3], d.prediction[3 * A + 3]]).toEqual([12, 12, 16, 16]);
      expect(d.prediction[4 * A + 3]).toBe(0.5);
    });
  });
}

/**
 * The task-aligned assigner's one-gt-per-anchor rule and normalisation, recomputed in float32 from its intermediates
 * (argmax of the overlaps over all gts for an anchor listed by several; norm = max over its gts of
 * align·po/(pa + eps), pa and po the gt's largest align and overlap over its positives). Returns how many anchors
 * went to a gt whose top-k did not list them.
 */
function checkTalAssignment(res: ReturnType<Gfl['taskAlignedAssignSync']>, B: number, M: number, A: number): number {
  const it = res.intermediates!;
  const eps = fr(1e-9);
  let moved = 0;
  for (let b = 0; b < B; b++) {
    const pa = new Float32Array(M), po = new Float32Array(M);
    for (let m = 0; m < M; m++) {
      for (let a = 0; a < A; a++) {
        const k = (b * M + m) * A + a;
        if (!it.maskPos[k]) continue;
        if (it.alignMetric[k] > pa[m]) pa[m] = it.alignMetric[k];
        if (it.overlaps[k] > po[m]) po[m] = it.overlaps[k];
      }
    }
    for (let a = 0; a < A; a++) {
      let listed = 0, best = 0;
      for (let m = 0; m < M; m++) {
        listed += it.maskPosBeforeHighest[(b * M + m) * A + a];
        if (it.overlaps[(b * M + m) * A + a] > it.overlaps[(b * M + best) * A + a]) best = m;
      }
      if (listed > 1) {
        expect(res.targetGtIdx[b * A + a], `image ${b} anchor ${a}`).toBe(best);
        if (!it.maskPosBeforeHighest[(b * M + best) * A + a]) moved++;
      }
      let norm = 0;
      for (let m = 0; m < M; m++) {
        const k = (b * M + m) * A + a;
        if (!it.maskPos[k]) continue;
        const q = fr(fr(it.alignMetric[k] * po[m]) / fr(pa[m] + eps));
        if (q > norm) norm = q;
      }
      expect(it.normAlignMetric[b * A + a], `image ${b} anchor ${a}`).toBe(norm);
    }
  }
  return moved;
}

describe('anchors', () => {
  it('GFL anchors: squares of side 8·stride at (x·s, y·s), level-major then y, x; valid flags from the pad shape', () => {
    const r = gflAnchors({ featmapSizes: [[2, 3], [1, 2]], strides: [8, 16] });
    expect(Array.from(r.numLevelAnchors)).toEqual([6, 2]);
    expect(Array.from(r.anchors.subarray(0, 8))).toEqual([-32, -32, 32, 32, -24, -32, 40, 32]);
    expect(Array.from(r.anchors.subarray(6 * 4, 7 * 4))).toEqual([-64, -64, 64, 64]);
    const f = anchorValidFlags([[2, 3], [1, 2]], [8, 16], [8, 16]);
    expect(Array.from(f)).toEqual([1, 1, 0, 0, 0, 0, 1, 0]);
  });
  it('anchor points: cell centres in grid units, strides per point', () => {
    const r = anchorPoints({ featShapes: [[1, 2], [1, 1]], strides: [8, 16] });
    expect(Array.from(r.points)).toEqual([0.5, 0.5, 1.5, 0.5, 0.5, 0.5]);
    expect(Array.from(r.strides)).toEqual([8, 8, 16]);
  });
});

describe('bad input (assignment, decode, NMS)', () => {
  const g = gfl('wasm-simd');
  const cases: Array<[string, () => unknown, string]> = [
    ['nms boxes length', () => g.batchedNmsSync({ boxes: new Float32Array(5), scores: new Float32Array(1), idxs: new Int32Array(1) }), 'input.boxes'],
    ['nms scores length', () => g.batchedNmsSync({ boxes: new Float32Array(8), scores: new Float32Array(1), idxs: new Int32Array(2) }), 'input.scores'],
    ['nms NaN score', () => g.batchedNmsSync({ boxes: new Float32Array(4), scores: Float32Array.of(NaN), idxs: new Int32Array(1) }), 'input.scores'],
    ['nms negative idx', () => g.batchedNmsSync({ boxes: new Float32Array(4), scores: Float32Array.of(1), idxs: Int32Array.of(-1) }), 'input.idxs'],
    ['nms threshold', () => g.batchedNmsSync({ boxes: new Float32Array(4), scores: Float32Array.of(1), idxs: Int32Array.of(0) }, { iouThreshold: NaN }), 'options.iouThreshold'],
    ['nms unknown option', () => g.batchedNmsSync({ boxes: new Float32Array(4), scores: Float32Array.of(1), idxs: Int32Array.of(0) }, { iou: 0.5 } as never), 'options.iou'],
    ['atss gt label range', () => g.atssTargetsSync({ gtBboxes: Float32Array.of(0, 0, 10, 10), gtLabels: Int32Array.of(3), numGts: [1] }, { numClasses: 3, padShape: [64, 64] }), 'input.gtLabels'],
    ['atss gt count', () => g.atssTargetsSync({ gtBboxes: Float32Array.of(0, 0, 10, 10), gtLabels: Int32Array.of(0), numGts: [2] }, { numClasses: 3, padShape: [64, 64] }), 'input.gtBboxes'],
    ['atss NaN gt', () => g.atssTargetsSync({ gtBboxes: Float32Array.of(0, NaN, 10, 10), gtLabels: Int32Array.of(0), numGts: [1] }, { numClasses: 3, padShape: [64, 64] }), 'input.gtBboxes'],
    ['atss pad shape', () => g.atssTargetsSync({ gtBboxes: new Float32Array(0), gtLabels: new Int32Array(0), numGts: [0, 0] }, { numClasses: 3, padShape: [[64, 64]] as never }), 'options.padShape'],
    ['atss level counts', () => g.atssAssignSync({ anchors: new Float32Array(8), numLevelAnchors: [3], gtBboxes: new Float32Array(4) }), 'input.numLevelAnchors'],
    ['tal score shape', () => g.taskAlignedAssignSync({ pdScores: Float32Array.of(0.5, 0.5, 0.5), pdBboxes: new Float32Array(8), anchorPoints: new Float32Array(4), gtLabels: Int32Array.of(0), gtBboxes: Float32Array.of(0, 0, 1, 1) }, { topk: 1 }), 'input.pdScores'],
    ['tal topk > anchors', () => g.taskAlignedAssignSync({ pdScores: Float32Array.of(0.5), pdBboxes: new Float32Array(4), anchorPoints: new Float32Array(2), gtLabels: Int32Array.of(0), gtBboxes: Float32Array.of(0, 0, 1, 1) }), 'options.topk'],
    ['tal label range', () => g.taskAlignedAssignSync({ pdScores: Float32Array.of(0.5), pdBboxes: new Float32Array(4), anchorPoints: new Float32Array(2), gtLabels: Float32Array.of(1.5), gtBboxes: Float32Array.of(0, 0, 1, 1) }, { topk: 1 }), 'input.gtLabels'],
    ['predict shapes', () => g.gflPredictSync({ clsScores: new Float32Array(7), bboxPreds: new Float32Array(10) }, { featmapSizes: [[1, 1], [1, 1], [1, 1], [1, 1], [1, 1]], imgShape: [8, 8] }), 'input.clsScores'],
    ['predict featmaps', () => g.gflPredictSync({ clsScores: new Float32Array(5), bboxPreds: new Float32Array(5 * 68) }, { featmapSizes: [[1, 1]], imgShape: [8, 8] }), 'options.featmapSizes'],
    ['yolo nms layout', () => g.yoloNmsSync({ prediction: new Float32Array(10) }), 'options.numClasses'],
    ['step labels per image', () => g.stepSync({ clsLogits: new Float32Array(0), regLogits: new Float32Array(0), gtBoxes: [new Float32Array(4)], gtLabels: [], imageSize: [64, 64] }), 'input.gtLabels'],
    ['step logits shape', () => g.stepSync({ clsLogits: new Float32Array(7), regLogits: new Float32Array(0), gtBoxes: [new Float32Array(4)], gtLabels: [Int32Array.of(0)], imageSize: [64, 64] }), 'input.clsLogits'],
    ['yolo decode layout', () => g.yoloDecodeSync({ xCat: new Float32Array(10) }, { featShapes: [[1, 1]], strides: [8] }), 'input.xCat'],
  ];
  for (const [what, fn, arg] of cases) {
    it(`${what} → GflInputError naming ${arg}`, () => {
      let err: unknown;
      try { fn(); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(GflInputError);
      expect((err as InstanceType<typeof GflInputError>).argument).toBe(arg);
    });
  }
  it('the instance stays usable after bad input', () => {
    const r = g.batchedNmsSync({ boxes: Float32Array.of(0, 0, 1, 1), scores: Float32Array.of(1), idxs: Int32Array.of(0) });
    expect(Array.from(r.keep)).toEqual([0]);
  });
});
