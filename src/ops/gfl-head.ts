// The whole GFL head loss: mmdetection v3.1 `GFLHead.loss_by_feat` (+ `loss_by_feat_single`), given the assignment
// (labels, label weights, box targets) that `get_targets` produces. SEMANTICS.md §5:
//   w_k        = max_c sigmoid(cls[k]) at positives (detached)
//   score_k    = IoU(decoded pred box (detached), target box), eps 1e-6, in stride units; 0 at negatives
//   loss_cls   = Σ_rows label_weight·QFL_β(cls, label, score) / (avg_factor + eps32)
//   loss_bbox  = λ_bbox·Σ_k w_k·(1 − GIoU_k) / (1 + eps32) / max(Σ w, 1)
//   loss_dfl   = λ_dfl·Σ_k w_k·Σ_sides DFL_k / (4 + eps32) / max(Σ w, 1)
// avg_factor defaults to Σ_images max(num_pos_image, 1), as get_targets computes it with the PseudoSampler.
// Two passes: one over the positives (gfl-head.ts: Integral → decode → GIoU → DFL and their gradient), one over every
// logit (the QFL kernel). The positives are gathered into compact rows here, so the positive pass reads and writes
// only their rows; the box-distribution gradient is zero at every other row.
import { GflInputError } from '../errors.js';
import { kernelCall, type WasmRuntime, type Op } from '../wasm/runtime.js';
import { f32Array, i32Array, finiteNumber, plainObject, knownKeys, positiveInt, rowsOf, bool, outArray, allFinite } from '../validate.js';
import { FLOAT32_EPS } from './reduce.js';
import { gatherRows, expandRows, rowsWithLabelIn, scaledInto, scatterValues } from './rows.js';

export interface GflHeadInput {
  /** Classification logits, N × C (rows: level-major, then image, y, x, as mmdetection flattens them). */
  clsScore: Float32Array;
  /** Box-distribution logits, N × 4·bins: [left bins | top | right | bottom] per row. */
  bboxPred: Float32Array;
  /** Anchors, N × 4 xyxy pixels (their centres are the points the distances are measured from). */
  anchors: Float32Array;
  /** Stride of each row's level, N. */
  stride: Float32Array;
  /** Assigned class per row; anything outside [0, C) (background C, or −1) is a negative. */
  labels: Int32Array;
  /** Per-row weight of the classification loss (0 ignores the row in QFL only). */
  labelWeights: Float32Array;
  /** Assigned boxes, N × 4 xyxy pixels; read at positive rows only. */
  bboxTargets: Float32Array;
}

export interface GflHeadOptions {
  /** C; defaults to clsScore.length / labels.length. */
  numClasses?: number;
  /** Bins per side (mmdetection reg_max + 1). Default 17. */
  bins?: number;
  /** QFL β. Default 2. */
  beta?: number;
  /**
   * QFL avg_factor. Default Σ_images max(num_pos_image, 1), with images taken from `levels`/`numImages`, or one
   * image when those are absent.
   */
  avgFactor?: number;
  /** Number of images B in the batch (with `levels`: N = B·Σ H·W). Default 1. */
  numImages?: number;
  /** Level shapes [H, W] in row order; enables per-level losses and per-image positive counts. */
  levels?: ReadonlyArray<readonly [number, number]>;
  /** loss_weight of QFL, GIoU and DFL. Default { cls: 1, bbox: 2, dfl: 0.25 } (configs/gfl). */
  lossWeight?: { cls?: number; bbox?: number; dfl?: number };
  /** Compute gradients. Default true. */
  grad?: boolean;
  /** Also return the per-level losses (requires `levels`). */
  returnPerLevel?: boolean;
  /** Also return what upstream passes to its loss modules (score targets, positive indices, weights, boxes, …). */
  returnIntermediates?: boolean;
  /** Preallocated gradients. */
  out?: { gradClsScore?: Float32Array; gradBboxPred?: Float32Array };
}

export interface GflHeadIntermediates {
  /** QFL score target per row (IoU at positives, 0 elsewhere). */
  qflScoreTarget: Float32Array;
  /** Row indices of the positives, ascending. */
  posInds: Int32Array;
  /** Quality weight of each positive. */
  weightTargets: Float32Array;
  /** Decoded boxes of the positives, stride units, K × 4. */
  posDecodedPredBoxes: Float32Array;
  posDecodedTargetBoxes: Float32Array;
  /** DFL targets, K × 4 (left, top, right, bottom), clamped to [0, bins − 1.1]. */
  dflTargetCorners: Float32Array;
  /** max(Σ w, 1). */
  bboxAvgFactor: number;
  /** The QFL avg_factor used. */
  qflAvgFactor: number;
}

export interface GflHeadResult {
  /** lossCls + lossBbox + lossDfl. */
  loss: number;
  lossCls: number;
  lossBbox: number;
  lossDfl: number;
  /** ∂loss/∂clsScore (QFL only: the quality weights and score targets are detached). */
  gradClsScore?: Float32Array;
  /** ∂loss/∂bboxPred (GIoU through the decode and the Integral, plus DFL); zero at negative rows. */
  gradBboxPred?: Float32Array;
  perLevel?: { lossCls: Float64Array; lossBbox: Float64Array; lossDfl: Float64Array };
  intermediates?: GflHeadIntermediates;
}

const KEYS = ['numClasses', 'bins', 'beta', 'avgFactor', 'numImages', 'levels', 'lossWeight', 'grad', 'returnPerLevel', 'returnIntermediates', 'out'];

/** Level shapes checked against N and B: returns each level's first row (and N at the end). */
export function levelOffsets(name: string, levels: unknown, numImages: number, n: number): number[] {
  if (!Array.isArray(levels) || levels.length === 0) throw new GflInputError(name, 'expected a non-empty array of [H, W] pairs');
  const off = [0];
  for (let l = 0; l < levels.length; l++) {
    const hw = levels[l];
    if (!Array.isArray(hw) || hw.length !== 2) throw new GflInputError(`${name}[${l}]`, 'expected [H, W]');
    const h = positiveInt(`${name}[${l}][0]`, hw[0]), w = positiveInt(`${name}[${l}][1]`, hw[1]);
    off.push(off[l] + numImages * h * w);
  }
  if (off[levels.length] !== n) {
    throw new GflInputError(name, `numImages × Σ H·W = ${off[levels.length]} rows, but the inputs have ${n}`);
  }
  return off;
}

/**
 * Rows per block of a head's positives pass (GFL and YOLOv8). A positive costs about 0.5 µs, so the default block
 * (481 rows at 17 bins: 7 blocks at b8) could leave a thread idle for most of one; both heads sum their losses from
 * the rows, not from the blocks' results, so the split changes no bits.
 */
export const POSITIVES_PER_BLOCK = 64;

/** Positives per image, under the level-major, then image, row layout (`pos` ascending). */
function positivesPerImage(pos: Int32Array, off: number[], numImages: number): Int32Array {
  const perImage = new Int32Array(numImages);
  for (let k = 0, l = 0; k < pos.length; k++) {
    const i = pos[k];
    while (i >= off[l + 1]) l++;
    perImage[Math.floor((i - off[l]) / ((off[l + 1] - off[l]) / numImages))]++;
  }
  return perImage;
}

/**
 * The positives' strides, anchors and box targets, gathered to compact rows in one loop: rows picked out of the dense
 * arrays miss the cache, and one loop keeps a positive's three misses in flight together (half the time of three
 * gathers at b8, cold cache). Then checked on the compact rows, before any kernel runs.
 */
function gatherPositiveBoxes(
  pos: Int32Array, stride: Float32Array, anchors: Float32Array, targets: Float32Array,
  s: Float32Array, a: Float32Array, t: Float32Array,
): void {
  for (let k = 0; k < pos.length; k++) {
    const i = pos[k], from = 4 * i, to = 4 * k;
    s[k] = stride[i];
    a[to] = anchors[from]; a[to + 1] = anchors[from + 1]; a[to + 2] = anchors[from + 2]; a[to + 3] = anchors[from + 3];
    t[to] = targets[from]; t[to + 1] = targets[from + 1]; t[to + 2] = targets[from + 2]; t[to + 3] = targets[from + 3];
  }
  checkPositiveRows(pos, s, a, t);
}

/**
 * What only the positives' rows must satisfy: a positive stride, finite boxes. It reads the positives' rows as
 * gathered (compact: row k is row pos[k]), so the dense arrays are visited once.
 */
function checkPositiveRows(pos: Int32Array, stride: Float32Array, anchors: Float32Array, targets: Float32Array): void {
  for (let k = 0; k < pos.length; k++) {
    const s = stride[k];
    if (!(s > 0 && s < Infinity)) throw new GflInputError('input.stride', `expected a positive stride at positive row ${pos[k]}, got ${s}`);
    for (let j = 4 * k; j < 4 * k + 4; j++) {
      if (!(Math.abs(anchors[j]) < Infinity)) throw new GflInputError('input.anchors', `expected finite values at positive row ${pos[k]}`);
      if (!(Math.abs(targets[j]) < Infinity)) throw new GflInputError('input.bboxTargets', `expected finite values at positive row ${pos[k]}`);
    }
  }
}

export function lossWeights(name: string, v: unknown, defaults: Record<string, number>): Record<string, number> {
  const o = plainObject(name, v);
  knownKeys(name, o, Object.keys(defaults));
  const r: Record<string, number> = {};
  for (const k of Object.keys(defaults)) r[k] = o[k] === undefined ? defaults[k] : finiteNumber(`${name}.${k}`, o[k]);
  return r;
}

export function* gflHeadLoss(rt: WasmRuntime, input: GflHeadInput, options?: GflHeadOptions): Op<GflHeadResult> {
  const inp = plainObject('input', input);
  const o = plainObject('options', options);
  knownKeys('options', o, KEYS);
  if (!(inp.labels instanceof Int32Array)) i32Array('input.labels', inp.labels, 0);
  const labels = inp.labels as Int32Array;
  const n = labels.length;
  let c: number;
  if (o.numClasses !== undefined) c = positiveInt('options.numClasses', o.numClasses);
  else {
    if (n === 0) throw new GflInputError('options.numClasses', 'required when there are no rows');
    c = rowsOf('input.clsScore', inp.clsScore, n, `N × C with N = ${n} rows`);
    if (c < 1) throw new GflInputError('input.clsScore', 'expected at least one class');
  }
  const bins = o.bins === undefined ? 17 : positiveInt('options.bins', o.bins, 2);
  const beta = o.beta === undefined ? 2 : finiteNumber('options.beta', o.beta, { min: 0 });
  const lw = lossWeights('options.lossWeight', o.lossWeight, { cls: 1, bbox: 2, dfl: 0.25 });
  const grad = o.grad === undefined ? true : bool('options.grad', o.grad);
  const wantInter = o.returnIntermediates === undefined ? false : bool('options.returnIntermediates', o.returnIntermediates);
  const wantLevels = o.returnPerLevel === undefined ? false : bool('options.returnPerLevel', o.returnPerLevel);
  const out = plainObject('options.out', o.out);
  const cls = f32Array('input.clsScore', inp.clsScore, n * c);
  const bboxPred = f32Array('input.bboxPred', inp.bboxPred, n * 4 * bins);
  const anchors = f32Array('input.anchors', inp.anchors, n * 4);
  const stride = f32Array('input.stride', inp.stride, n);
  const labelWeights = f32Array('input.labelWeights', inp.labelWeights, n);
  const targets = f32Array('input.bboxTargets', inp.bboxTargets, n * 4);
  allFinite('input.labelWeights', labelWeights);
  const numImages = o.numImages === undefined ? 1 : positiveInt('options.numImages', o.numImages);
  const off = o.levels === undefined ? undefined : levelOffsets('options.levels', o.levels, numImages, n);
  if (wantLevels && !off) throw new GflInputError('options.returnPerLevel', 'needs options.levels');
  const gradClsOut = outArray(out, 'gradClsScore', n * c);
  const gradBboxOut = outArray(out, 'gradBboxPred', n * 4 * bins);

  // the positives (their rows' strides and boxes are checked once gathered, below)
  const pos = rowsWithLabelIn(labels, 0, c);
  const npos = pos.length;
  const perImage = off ? positivesPerImage(pos, off, numImages) : new Int32Array(0);
  let avgFactor: number;
  if (o.avgFactor !== undefined) avgFactor = finiteNumber('options.avgFactor', o.avgFactor, { min: 0 });
  else if (off) { avgFactor = 0; for (const p of perImage) avgFactor += Math.max(p, 1); }
  else avgFactor = numImages === 1 ? Math.max(npos, 1) : (() => {
    throw new GflInputError('options.levels', 'needed with numImages > 1 to count positives per image (or pass options.avgFactor)');
  })();

  const rowW = 4 * bins;
  // The positives' rows of the class and box logits: gathered in wasm from arrays already in gfloss memory (zero-copy
  // inputs), else in JavaScript from the caller's arrays, just those rows (a copy of the whole array would move twenty
  // times the bytes; the class logits stream in later, during the QFL call). Their maxima are taken in wasm either way.
  const predInPlace = rt.owns(bboxPred), clsInPlace = rt.owns(cls);
  const f = rt.frame();
  const pCls = f.streamIn(cls, c), pLabel = f.input(labels);
  const pBboxPred = predInPlace ? f.input(bboxPred) : 0;
  const pPos = f.input(pos);
  const pScore = f.floats(n), pCoef = f.floats(n), pRow = f.floats(n, wantLevels);
  const pGradCls = f.floats(n * c, grad, gradClsOut);
  const pPosCls = f.floats(npos * c, !clsInPlace), pW = f.floats(npos);
  const pPred = f.floats(npos * rowW), pAnchor = f.floats(npos * 4), pStride = f.floats(npos), pTarget = f.floats(npos * 4);
  const pGradPos = f.floats(npos * rowW, grad);
  const pPredBox = f.floats(npos * 4), pTargetBox = f.floats(npos * 4), pCorners = f.floats(npos * 4);
  const pIou = f.floats(npos), pBoxLoss = f.floats(npos), pDflLoss = f.floats(npos), pScratch = f.floats(npos * 16);
  f.ready();
  gatherPositiveBoxes(pos, stride, anchors, targets, f.view(pStride, npos), f.view(pAnchor, npos * 4), f.view(pTarget, npos * 4));
  if (!predInPlace) gatherRows(bboxPred, pos, rowW, f.view(pPred, npos * rowW));
  if (!clsInPlace) gatherRows(cls, pos, c, f.view(pPosCls, npos * c));

  const clsScale = lw.cls / (avgFactor + FLOAT32_EPS);
  const gradBboxPred = grad ? gradBboxOut ?? new Float32Array(n * rowW) : undefined;
  // the quality weights, and the box logits in place gathered to compact rows; meanwhile the calling thread writes the
  // class loss's row coefficients
  const gatherCall = kernelCall('gflHeadGather',
    [pPos, clsInPlace ? pCls : pPosCls, clsInPlace ? 1 : 0, pW, npos, c, pBboxPred, predInPlace ? pPred : 0, rowW],
    // the row width (block size) is the same with and without zero-copy inputs: Σ w, summed per block, must not change
    [4, clsInPlace ? 0 : 4 * c, 0, 4, 'rows', 0, 0, predInPlace ? 4 * rowW : 0, 0], npos, c + rowW);
  gatherCall.sideWork = () => scaledInto(labelWeights, clsScale, f.view(pCoef, n));
  const sumW = yield gatherCall;
  // bbox_avg_factor is a Python float in upstream (`.item()`): a constant, no gradient
  const bboxAvg = Math.max(sumW, 1);
  const boxCoef = lw.bbox / (1 + FLOAT32_EPS) / bboxAvg;
  const dflCoef = lw.dfl / (4 + FLOAT32_EPS) / bboxAvg;
  const positivesCall = kernelCall('gflHeadPositives',
    [pPred, pAnchor, pStride, pTarget, pW, pGradPos, pPredBox, pTargetBox, pCorners, pIou, pBoxLoss, pDflLoss, pScratch,
      npos, bins, boxCoef, dflCoef, 1e-6],
    [4 * rowW, 16, 4, 16, 4, 4 * rowW, 16, 16, 16, 4, 4, 4, 64, 'rows', 0, 0, 0, 0], npos, rowW);
  positivesCall.rowsPerBlock = POSITIVES_PER_BLOCK;
  yield positivesCall;

  scatterValues(f.view(pIou, npos), pos, f.view(pScore, n));
  const gradClsScore = grad ? f.streamOut(pGradCls, gradClsOut ?? new Float32Array(n * c), c) : undefined;
  const clsCall = kernelCall('qflLogits', [pCls, pLabel, pScore, pCoef, pRow, 0, pGradCls, 0, n, c, beta],
    [4 * c, 4, 4, 4, 4, 0, 4 * c, 0, 'rows', 0, 0], n, c, f);
  // the dense box-distribution gradient (zero but at the positives) is written while the QFL blocks run: the long call
  // balances it across the threads, where the short positives call would wait for it
  if (gradBboxPred) clsCall.sideWork = () => expandRows(rt, f.view(pGradPos, npos * rowW), pos, pPos, rowW, gradBboxPred, !gradBboxOut);
  const lossCls = yield clsCall;

  const boxLoss = f.view(pBoxLoss, npos), dflLoss = f.view(pDflLoss, npos);
  let sumBox = 0, sumDfl = 0;
  for (let k = 0; k < npos; k++) { sumBox += boxLoss[k]; sumDfl += dflLoss[k]; }
  const lossBbox = sumBox * boxCoef, lossDfl = sumDfl * dflCoef;
  const res: GflHeadResult = { loss: lossCls + lossBbox + lossDfl, lossCls, lossBbox, lossDfl };

  if (wantLevels && off) {
    const L = off.length - 1;
    const pl = { lossCls: new Float64Array(L), lossBbox: new Float64Array(L), lossDfl: new Float64Array(L) };
    const row = f.view(pRow, n), coef = f.view(pCoef, n);
    for (let l = 0; l < L; l++) for (let i = off[l]; i < off[l + 1]; i++) pl.lossCls[l] += coef[i] * row[i];
    for (let k = 0, l = 0; k < npos; k++) {
      while (pos[k] >= off[l + 1]) l++;
      pl.lossBbox[l] += boxLoss[k] * boxCoef;
      pl.lossDfl[l] += dflLoss[k] * dflCoef;
    }
    res.perLevel = pl;
  }
  if (wantInter) {
    const qflScoreTarget = new Float32Array(n);
    scatterValues(f.view(pIou, npos), pos, qflScoreTarget);
    res.intermediates = {
      qflScoreTarget, posInds: pos, weightTargets: f.take(pW, npos),
      posDecodedPredBoxes: f.take(pPredBox, npos * 4), posDecodedTargetBoxes: f.take(pTargetBox, npos * 4),
      dflTargetCorners: f.take(pCorners, npos * 4), bboxAvgFactor: bboxAvg, qflAvgFactor: avgFactor,
    };
  }
  if (grad) {
    res.gradClsScore = gradClsScore;
    res.gradBboxPred = gradBboxPred;
  }
  return res;
}
