// Class-aware NMS in WASM (assembly/nms.ts): mmcv v2.0.1 `batched_nms` (class offset label·(max + 1)),
// mmdetection v3.1 `multiclass_nms`, and ultralytics 8.3 `non_max_suppression` (offset cls·7680). Greedy NMS as
// torchvision: stable score-descending order (ties: lower index first), IoU in float32 compared with the threshold
// as a double, NaN IoU suppresses nothing. Thresholds on scores are compared in float32 (score_thr rounded).
import { GflInputError } from '../errors.js';
import { kernelCall, type WasmRuntime, type Op, type KernelCall, type Frame } from '../wasm/runtime.js';
import { plainObject, knownKeys, finiteNumber, positiveInt, bool, rowsOf, f32Array } from '../validate.js';

const fr = Math.fround;

// ---------------------------------------------------------------------------------------------
// shared by the assignment / decode / NMS ops

/** A kernel that runs once over its whole problem (one image): no row split. */
export function once(kernel: KernelCall['kernel'], args: number[]): KernelCall {
  return kernelCall(kernel, args, args.map(() => 0), 1, 1);
}

export function i32At(rt: WasmRuntime, ptr: number, n: number): Int32Array {
  return new Int32Array(rt.memory.buffer, ptr, n);
}
export function u8At(rt: WasmRuntime, ptr: number, n: number): Uint8Array {
  return new Uint8Array(rt.memory.buffer, ptr, n);
}
export function f32At(rt: WasmRuntime, ptr: number, n: number): Float32Array {
  return new Float32Array(rt.memory.buffer, ptr, n);
}

/** An integer-valued typed array (Int32Array, or float / int64 storage of integers), as Int32Array. */
export function intArray(name: string, v: unknown, length: number, lo = -2147483648, hi = 2147483647): Int32Array {
  const ok = v instanceof Int32Array || v instanceof Float32Array || v instanceof Float64Array || v instanceof BigInt64Array
    || v instanceof Uint8Array || v instanceof Uint32Array || v instanceof Int16Array || v instanceof Uint16Array || v instanceof Int8Array;
  if (!ok) throw new GflInputError(name, `expected an Int32Array (or another typed array of integers) of length ${length}, got ${v === null ? 'null' : typeof v === 'object' ? (v as object).constructor?.name : typeof v}`);
  const a = v as ArrayLike<number | bigint>;
  if (a.length !== length) throw new GflInputError(name, `expected length ${length}, got ${a.length}`);
  if (v instanceof Int32Array && lo === -2147483648 && hi === 2147483647) return v;
  const out = new Int32Array(length);
  for (let i = 0; i < length; i++) {
    const x = Number(a[i]);
    if (!Number.isInteger(x) || x < lo || x > hi) throw new GflInputError(name, `expected integers in [${lo}, ${hi}], got ${x} at index ${i}`);
    out[i] = x;
  }
  return out;
}

/** A finite threshold, as float32 (torch compares a float32 tensor with a Python float in float32). */
export function threshold(name: string, v: unknown, fallback: number, lo = -Infinity, hi = Infinity): number {
  const x = v === undefined ? fallback : finiteNumber(name, v);
  if (!(x >= lo && x <= hi)) throw new GflInputError(name, `expected a number in [${lo}, ${hi}], got ${x}`);
  return x;
}

export function noNaN(name: string, a: Float32Array, stride = 1, offset = 0, count = 1): void {
  for (let i = offset; i < a.length; i += stride) {
    for (let k = 0; k < count; k++) {
      if (Number.isNaN(a[i + k])) throw new GflInputError(name, `expected no NaN, got NaN at index ${i + k}`);
    }
  }
}

/** Scratch and staging for one NMS kernel call over n boxes. */
export interface NmsBuffers { boxes: number; scores: number; labels: number; forNms: number; order: number; tmp: number; suppressed: number; keep: number }

export function reserveNms(f: Frame, n: number, staged?: { boxes?: number; scores?: number; labels?: number }): NmsBuffers {
  return {
    boxes: staged?.boxes ?? f.reserve(n * 16), scores: staged?.scores ?? f.reserve(n * 4), labels: staged?.labels ?? f.reserve(n * 4),
    forNms: f.reserve(n * 16), order: f.reserve(n * 4), tmp: f.reserve(n * 4), suppressed: f.reserve(n), keep: f.reserve(n * 4),
  };
}

/** mode: 0 class-agnostic, 1 mmcv offset label·(max + 1), 2 label·scale. */
export function nmsCall(b: NmsBuffers, n: number, mode: number, scale: number, iou: number, sameLabelOnly: boolean, maxCandidates: number, maxKeep: number): KernelCall {
  return once('nms', [b.boxes, b.scores, b.labels, n, mode, scale, iou, sameLabelOnly ? 1 : 0, maxCandidates, maxKeep, b.forNms, b.order, b.tmp, b.suppressed, b.keep]);
}

// ---------------------------------------------------------------------------------------------
// mmcv batched_nms

export interface BatchedNmsInput {
  /** N × 4 xyxy. */
  boxes: Float32Array;
  /** N. */
  scores: Float32Array;
  /** N class indices (the offset groups). */
  idxs: Int32Array;
}

export interface BatchedNmsOptions {
  /** Default 0.6 (GFL's test setting). Suppression iff IoU > threshold. */
  iouThreshold?: number;
  /** NMS over all boxes regardless of class (no offset). Default false. */
  classAgnostic?: boolean;
  /** mmcv's split_thr: from this many boxes on, NMS runs per class (on the offset boxes). Default 10000. */
  splitThr?: number;
  /** Also return the offset boxes the NMS ran on. */
  returnBoxesForNms?: boolean;
}

export interface BatchedNmsResult {
  /** K × 5: x1, y1, x2, y2, score of the kept boxes, score-descending (ties: lower input index first). */
  dets: Float32Array;
  /** K input indices. */
  keep: Int32Array;
  /** N × 4: boxes + idx·(max coordinate + 1), float32 (absent when class-agnostic). */
  boxesForNms?: Float32Array;
}

export function* batchedNms(rt: WasmRuntime, input: BatchedNmsInput, options?: BatchedNmsOptions): Op<BatchedNmsResult> {
  const inp = plainObject('input', input);
  const o = plainObject('options', options);
  knownKeys('options', o, ['iouThreshold', 'classAgnostic', 'splitThr', 'returnBoxesForNms']);
  const n = rowsOf('input.boxes', inp.boxes, 4, 'N × 4 boxes (x1, y1, x2, y2)');
  const boxes = inp.boxes as Float32Array;
  const scores = f32Array('input.scores', inp.scores, n);
  const idxs = intArray('input.idxs', inp.idxs, n, 0, 16777216);
  noNaN('input.scores', scores);
  noNaN('input.boxes', boxes);
  const iou = threshold('options.iouThreshold', o.iouThreshold, 0.6);
  const agnostic = o.classAgnostic === undefined ? false : bool('options.classAgnostic', o.classAgnostic);
  const splitThr = o.splitThr === undefined ? 10000 : positiveInt('options.splitThr', o.splitThr);
  const wantOffset = o.returnBoxesForNms === true;
  if (n === 0) return { dets: new Float32Array(0), keep: new Int32Array(0), ...(wantOffset && !agnostic ? { boxesForNms: new Float32Array(0) } : {}) };

  const f = rt.frame();
  const b = reserveNms(f, n, { boxes: f.input(boxes), scores: f.input(scores), labels: f.input(idxs) });
  f.ready();
  const k = yield nmsCall(b, n, agnostic ? 0 : 1, 0, iou, !agnostic && n >= splitThr, 0, 0);
  const keep = i32At(rt, b.keep, k).slice();
  const dets = new Float32Array(k * 5);
  for (let t = 0; t < k; t++) {
    const i = keep[t];
    dets.set(boxes.subarray(i * 4, i * 4 + 4), t * 5);
    dets[t * 5 + 4] = scores[i];
  }
  const res: BatchedNmsResult = { dets, keep };
  if (wantOffset && !agnostic) res.boxesForNms = f32At(rt, b.forNms, n * 4).slice();
  return res;
}

// ---------------------------------------------------------------------------------------------
// mmdet multiclass_nms

export interface MulticlassNmsInput {
  /** N × 4 boxes shared by all classes, or N × 4C one box per class. */
  bboxes: Float32Array;
  /** N × (C + 1) scores; the last column (background) is ignored. */
  scores: Float32Array;
}

export interface MulticlassNmsOptions {
  /** Number of classes C (without background). Default: from bboxes when N × 4C, else required. */
  numClasses?: number;
  /** Candidates: score > scoreThr (float32). Default 0.05. */
  scoreThr?: number;
  /** Default 0.6. */
  iouThreshold?: number;
  /** Keep at most this many (≤ 0: all). Default 100. */
  maxNum?: number;
  /** Also return the candidates entering NMS and the NMS keep list before the maxNum cut. */
  intermediates?: boolean;
}

export interface MulticlassNmsResult {
  /** K × 5 [x1, y1, x2, y2, score], score-descending. */
  dets: Float32Array;
  /** K class indices. */
  labels: Int32Array;
  /** K flat indices n·C + c into the scores (without background). */
  inds: Int32Array;
  intermediates?: { nmsInBoxes: Float32Array; nmsInScores: Float32Array; nmsInLabels: Int32Array; nmsKeep: Int32Array };
}

export function* multiclassNms(rt: WasmRuntime, input: MulticlassNmsInput, options?: MulticlassNmsOptions): Op<MulticlassNmsResult> {
  const inp = plainObject('input', input);
  const o = plainObject('options', options);
  knownKeys('options', o, ['numClasses', 'scoreThr', 'iouThreshold', 'maxNum', 'intermediates']);
  if (!(inp.scores instanceof Float32Array)) throw new GflInputError('input.scores', 'expected a Float32Array of N × (C + 1) scores');
  const scoresAll = inp.scores;
  const nBoxRows = rowsOf('input.bboxes', inp.bboxes, 4, 'N × 4 or N × 4C boxes');
  let c: number;
  if (o.numClasses !== undefined) c = positiveInt('options.numClasses', o.numClasses);
  else {
    // N × (C+1) scores and N × 4 boxes: C = scores/N − 1 needs N; take N from the boxes when shared
    if (scoresAll.length % nBoxRows !== 0) throw new GflInputError('input.scores', `expected N × (C + 1) values with N = ${nBoxRows} box rows`);
    c = scoresAll.length / nBoxRows - 1;
    if (c < 1) throw new GflInputError('input.scores', 'expected at least one class column besides background');
  }
  if (scoresAll.length % (c + 1) !== 0) throw new GflInputError('input.scores', `expected a multiple of C + 1 = ${c + 1} values`);
  const n = scoresAll.length / (c + 1);
  const perClass = nBoxRows === n * c && c > 1;
  if (!perClass && nBoxRows !== n) throw new GflInputError('input.bboxes', `expected ${n} × 4 or ${n} × ${4 * c} values, got ${nBoxRows * 4}`);
  const bboxes = inp.bboxes as Float32Array;
  noNaN('input.bboxes', bboxes);
  noNaN('input.scores', scoresAll);
  const thr = fr(threshold('options.scoreThr', o.scoreThr, 0.05));
  const iou = threshold('options.iouThreshold', o.iouThreshold, 0.6);
  const maxNum = o.maxNum === undefined ? 100 : Math.trunc(finiteNumber('options.maxNum', o.maxNum));
  const inter = o.intermediates === undefined ? false : bool('options.intermediates', o.intermediates);

  // candidates: (n, c) pairs with score > thr, flat row-major
  const flat: number[] = [];
  for (let i = 0; i < n; i++) for (let k = 0; k < c; k++) if (scoresAll[i * (c + 1) + k] > thr) flat.push(i * c + k);
  const m = flat.length;
  const boxes = new Float32Array(m * 4), scores = new Float32Array(m), labels = new Int32Array(m);
  flat.forEach((fi, t) => {
    const i = Math.floor(fi / c), k = fi % c;
    const src = perClass ? fi * 4 : i * 4;
    boxes.set(bboxes.subarray(src, src + 4), t * 4);
    scores[t] = scoresAll[i * (c + 1) + k];
    labels[t] = k;
  });
  let nmsKeep = new Int32Array(0);
  if (m > 0) {
    const f = rt.frame();
    const b = reserveNms(f, m, { boxes: f.input(boxes), scores: f.input(scores), labels: f.input(labels) });
    f.ready();
    const cap = inter || maxNum <= 0 ? 0 : maxNum;
    const k = yield nmsCall(b, m, 1, 0, iou, m >= 10000, 0, cap);
    nmsKeep = i32At(rt, b.keep, k).slice();
  }
  const kept = maxNum > 0 ? nmsKeep.subarray(0, maxNum) : nmsKeep;
  const dets = new Float32Array(kept.length * 5), outLabels = new Int32Array(kept.length), inds = new Int32Array(kept.length);
  kept.forEach((t, r) => {
    dets.set(boxes.subarray(t * 4, t * 4 + 4), r * 5);
    dets[r * 5 + 4] = scores[t];
    outLabels[r] = labels[t];
    inds[r] = flat[t];
  });
  const res: MulticlassNmsResult = { dets, labels: outLabels, inds };
  if (inter) res.intermediates = { nmsInBoxes: boxes, nmsInScores: scores, nmsInLabels: labels, nmsKeep };
  return res;
}

// ---------------------------------------------------------------------------------------------
// ultralytics non_max_suppression

export interface YoloNmsInput {
  /** B × (4 + nc) × A: cx, cy, w, h (pixels) then class probabilities, channel-major as Detect returns it. */
  prediction: Float32Array;
}

export interface YoloNmsOptions {
  /** Number of images B (default 1). */
  batchSize?: number;
  /** nc; default: from the anchors count, which then must be given as `numAnchors`. */
  numClasses?: number;
  numAnchors?: number;
  /** Default 0.25 (strict >, float32). */
  confThres?: number;
  /** Default 0.45 (ultralytics' function default; its predictor passes 0.7). */
  iouThres?: number;
  /** Default false. */
  agnostic?: boolean;
  /** Every class above confThres is a candidate (validation mode). Default false. */
  multiLabel?: boolean;
  /** Default 300. */
  maxDet?: number;
  /** Default 30000. */
  maxNms?: number;
  /** Class offset; default 7680. */
  maxWh?: number;
}

export interface YoloNmsImage {
  /** K × 6: x1, y1, x2, y2, conf, class, score-descending (ties: candidate order). */
  det: Float32Array;
  /** K: anchor index of each detection. */
  keep: Int32Array;
}

export function* yoloNms(rt: WasmRuntime, input: YoloNmsInput, options?: YoloNmsOptions): Op<YoloNmsImage[]> {
  const inp = plainObject('input', input);
  const o = plainObject('options', options);
  knownKeys('options', o, ['batchSize', 'numClasses', 'numAnchors', 'confThres', 'iouThres', 'agnostic', 'multiLabel', 'maxDet', 'maxNms', 'maxWh']);
  if (!(inp.prediction instanceof Float32Array)) throw new GflInputError('input.prediction', 'expected a Float32Array of B × (4 + nc) × A');
  const pred = inp.prediction;
  const bs = o.batchSize === undefined ? 1 : positiveInt('options.batchSize', o.batchSize);
  if (pred.length % bs !== 0) throw new GflInputError('input.prediction', `expected a multiple of batchSize ${bs} values`);
  const per = pred.length / bs;
  let nc: number, a: number;
  if (o.numClasses !== undefined) {
    nc = positiveInt('options.numClasses', o.numClasses);
    if (per % (4 + nc) !== 0) throw new GflInputError('input.prediction', `expected (4 + ${nc}) × A values per image`);
    a = per / (4 + nc);
  } else if (o.numAnchors !== undefined) {
    a = positiveInt('options.numAnchors', o.numAnchors);
    if (per % a !== 0 || per / a < 5) throw new GflInputError('input.prediction', `expected (4 + nc) × ${a} values per image`);
    nc = per / a - 4;
  } else {
    throw new GflInputError('options.numClasses', 'numClasses or numAnchors is required to read the prediction layout');
  }
  if (o.numAnchors !== undefined && positiveInt('options.numAnchors', o.numAnchors) !== a) throw new GflInputError('options.numAnchors', `inconsistent with numClasses: ${a} anchors`);
  noNaN('input.prediction', pred);
  const conf = fr(threshold('options.confThres', o.confThres, 0.25, 0, 1));
  const iou = threshold('options.iouThres', o.iouThres, 0.45, 0, 1);
  const agnostic = o.agnostic === undefined ? false : bool('options.agnostic', o.agnostic);
  const multi = (o.multiLabel === undefined ? false : bool('options.multiLabel', o.multiLabel)) && nc > 1;
  const maxDet = o.maxDet === undefined ? 300 : positiveInt('options.maxDet', o.maxDet);
  const maxNms = o.maxNms === undefined ? 30000 : positiveInt('options.maxNms', o.maxNms);
  const maxWh = o.maxWh === undefined ? 7680 : finiteNumber('options.maxWh', o.maxWh, { min: 0 });

  const cap = multi ? a * nc : a;
  const f = rt.frame();
  const pPtr = f.input(pred);
  const nb = reserveNms(f, cap);
  const anchor = f.reserve(cap * 4);
  f.ready();
  const out: YoloNmsImage[] = [];
  for (let b = 0; b < bs; b++) {
    const k = yield once('yoloCandidates', [pPtr + b * per * 4, a, nc, conf, multi ? 1 : 0, nb.boxes, nb.scores, nb.labels, anchor]);
    if (k === 0) { out.push({ det: new Float32Array(0), keep: new Int32Array(0) }); continue; }
    const kept = yield nmsCall(nb, k, agnostic ? 0 : 2, fr(maxWh), iou, false, maxNms, maxDet);
    const keepIdx = i32At(rt, nb.keep, kept);
    const boxes = f32At(rt, nb.boxes, k * 4), scores = f32At(rt, nb.scores, k), cls = i32At(rt, nb.labels, k), anc = i32At(rt, anchor, k);
    const det = new Float32Array(kept * 6), keep = new Int32Array(kept);
    for (let t = 0; t < kept; t++) {
      const i = keepIdx[t];
      det.set(boxes.subarray(i * 4, i * 4 + 4), t * 6);
      det[t * 6 + 4] = scores[i];
      det[t * 6 + 5] = cls[i];
      keep[t] = anc[i];
    }
    out.push({ det, keep });
  }
  return out;
}
