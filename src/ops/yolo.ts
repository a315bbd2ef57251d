// The YOLOv8 / YOLO11 detection loss: ultralytics 8.3 `v8DetectionLoss.__call__` given the assignment
// (target_bboxes, target_scores, fg_mask) that its TaskAlignedAssigner produces. SEMANTICS.md §7:
//   tss      = max(Σ target_scores, 1)
//   cls      = Σ BCEWithLogits(pred_scores, target_scores) / tss          (QFL β = 0, dense form)
//   box      = Σ_fg w·(1 − CIoU(decoded pred, target/stride)) / tss       w = Σ_c target_scores of the anchor
//   dfl      = Σ_fg w·mean_sides DFL(pred_distri, bbox2dist(...)) / tss  targets clamped to [0, bins − 1.01]
//   loss     = [box·7.5, cls·0.5, dfl·1.5] · batch_size                   (what __call__ returns; the trainer sums it)
// Pred boxes are dist2bbox(softmax · arange(bins)) around the anchor points (x + 0.5, y + 0.5) in grid units.
import { GflInputError } from '../errors.js';
import { kernelCall, type WasmRuntime, type Op } from '../wasm/runtime.js';
import { f32Array, plainObject, knownKeys, positiveInt, rowsOf, bool, outArray, allFinite, finiteNumber } from '../validate.js';
import { lossWeights, POSITIVES_PER_BLOCK } from './gfl-head.js';
import { gatherRows, expandRows } from './rows.js';
import { once } from './nms.js';

export interface YoloV8Input {
  /** Class logits, (B·A) × nc, image-major, anchors level-major then y, x within an image. */
  predScores: Float32Array;
  /** Box-distribution logits, (B·A) × 4·bins, channel = side·bins + bin (sides l, t, r, b). */
  predDistri: Float32Array;
  /** Assigned boxes, (B·A) × 4 xyxy pixels; read at foreground anchors only. */
  targetBboxes: Float32Array;
  /** Soft class targets from the assigner, (B·A) × nc, in [0, 1]. */
  targetScores: Float32Array;
  /** Foreground anchors (non-zero), B·A. */
  fgMask: Uint8Array | Int32Array;
}

export interface YoloV8Options {
  /** Level shapes [H, W] in anchor order, with `strides`: the anchors as `make_anchors` lays them out. */
  levels?: ReadonlyArray<readonly [number, number]>;
  strides?: readonly number[];
  /** Or explicit anchor points (A × 2, grid units) and their strides (A). */
  anchorPoints?: Float32Array;
  strideTensor?: Float32Array;
  /** Batch size B; default 1. The anchors are shared by the B images. */
  batchSize?: number;
  /** Bins per side (ultralytics reg_max). Default 16. */
  bins?: number;
  /** Gains. Default { box: 7.5, cls: 0.5, dfl: 1.5 } (default.yaml). */
  gains?: { box?: number; cls?: number; dfl?: number };
  /** Compute gradients. Default true. */
  grad?: boolean;
  /** Also return intermediates (anchor points, strides, foreground CIoU / DFL / targets, decoded boxes of every anchor). */
  returnIntermediates?: boolean;
  out?: { gradPredScores?: Float32Array; gradPredDistri?: Float32Array };
}

export interface YoloV8Intermediates {
  anchorPoints: Float32Array;
  strideTensor: Float32Array;
  /** Decoded boxes of every anchor, (B·A) × 4, grid units. */
  predBboxes: Float32Array;
  /** Per foreground anchor (fg_mask order): CIoU, DFLoss (mean of sides, unweighted), DFL targets (K × 4). */
  fgCiou: Float32Array;
  fgDfl: Float32Array;
  fgDflTarget: Float32Array;
}

export interface YoloV8Result {
  /** lossBox + lossCls + lossDfl: the sum of what __call__ returns. */
  loss: number;
  /** box·gain·B, cls·gain·B, dfl·gain·B (`loss_scaled`). */
  lossBox: number;
  lossCls: number;
  lossDfl: number;
  /** [box, cls, dfl] with gains, without the batch factor (`loss.detach()`, what the trainer logs). */
  lossItems: [number, number, number];
  /** max(Σ target_scores, 1). */
  targetScoresSum: number;
  gradPredScores?: Float32Array;
  gradPredDistri?: Float32Array;
  intermediates?: YoloV8Intermediates;
}

const KEYS = ['levels', 'strides', 'anchorPoints', 'strideTensor', 'batchSize', 'bins', 'gains', 'grad', 'returnIntermediates', 'out'];

/** ultralytics make_anchors (grid_cell_offset 0.5): points (x + 0.5, y + 0.5) per level, y-major; strides per point. */
export function makeAnchors(levels: ReadonlyArray<readonly [number, number]>, strides: readonly number[]): { points: Float32Array; strides: Float32Array } {
  let a = 0;
  for (const [h, w] of levels) a += h * w;
  const points = new Float32Array(2 * a), st = new Float32Array(a);
  let r = 0;
  levels.forEach(([h, w], l) => {
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++, r++) {
      points[2 * r] = x + 0.5;
      points[2 * r + 1] = y + 0.5;
      st[r] = strides[l];
    }
  });
  return { points, strides: st };
}

// The loops over every anchor or target score live in plain functions: V8 runs them several times slower inside the
// generator.

/** The foreground rows, ascending; their target boxes must be finite. */
function foregroundRows(fg: Uint8Array | Int32Array, tb: Float32Array): Int32Array {
  let count = 0;
  for (let i = 0; i < fg.length; i++) if (fg[i]) count++;
  const idx = new Int32Array(count);
  for (let i = 0, k = 0; i < fg.length; i++) {
    if (!fg[i]) continue;
    idx[k++] = i;
    for (let j = 4 * i; j < 4 * i + 4; j++) if (!(Math.abs(tb[j]) < Infinity)) throw new GflInputError('input.targetBboxes', `expected finite values at foreground anchor ${i}`);
  }
  return idx;
}

/** Per foreground row: its anchor point and stride (rows are image-major, a anchors each), and target_scores.sum(−1)
 * accumulated in float32 as torch does. */
function foregroundInputs(
  idx: Int32Array, a: number, nc: number, points: Float32Array, strides: Float32Array, ts: Float32Array,
  point: Float32Array, stride: Float32Array, weight: Float32Array,
): void {
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k], ai = i % a;
    point[2 * k] = points[2 * ai]; point[2 * k + 1] = points[2 * ai + 1];
    stride[k] = strides[ai];
    let w = 0;
    for (let j = i * nc; j < (i + 1) * nc; j++) w = Math.fround(w + ts[j]);
    weight[k] = w;
  }
}

export function* yoloV8Loss(rt: WasmRuntime, input: YoloV8Input, options?: YoloV8Options): Op<YoloV8Result> {
  const inp = plainObject('input', input);
  const o = plainObject('options', options);
  knownKeys('options', o, KEYS);
  const bins = o.bins === undefined ? 16 : positiveInt('options.bins', o.bins, 2);
  const batch = o.batchSize === undefined ? 1 : positiveInt('options.batchSize', o.batchSize);
  const gains = lossWeights('options.gains', o.gains, { box: 7.5, cls: 0.5, dfl: 1.5 });
  const grad = o.grad === undefined ? true : bool('options.grad', o.grad);
  const wantInter = o.returnIntermediates === undefined ? false : bool('options.returnIntermediates', o.returnIntermediates);
  const out = plainObject('options.out', o.out);

  const fg = inp.fgMask;
  if (!(fg instanceof Uint8Array || fg instanceof Int32Array)) {
    throw new GflInputError('input.fgMask', `expected a Uint8Array or Int32Array (one flag per anchor), got ${fg === null ? 'null' : typeof fg === 'object' ? (fg as object).constructor.name : typeof fg}`);
  }
  const rows = fg.length;
  if (rows % batch !== 0) throw new GflInputError('input.fgMask', `expected batchSize × A flags, got ${rows} for batchSize ${batch}`);
  const a = rows / batch;
  let points: Float32Array, strides: Float32Array;
  if (o.anchorPoints !== undefined || o.strideTensor !== undefined) {
    if (o.levels !== undefined || o.strides !== undefined) throw new GflInputError('options.anchorPoints', 'give either levels + strides or anchorPoints + strideTensor');
    points = f32Array('options.anchorPoints', o.anchorPoints, 2 * a);
    strides = f32Array('options.strideTensor', o.strideTensor, a);
    allFinite('options.anchorPoints', points);
  } else {
    if (o.levels === undefined || o.strides === undefined) throw new GflInputError('options.levels', 'required (with options.strides), or pass options.anchorPoints + options.strideTensor');
    if (!Array.isArray(o.levels) || o.levels.length === 0) throw new GflInputError('options.levels', 'expected a non-empty array of [H, W] pairs');
    const levels = o.levels as Array<[number, number]>;
    const st = o.strides;
    if (!Array.isArray(st) || st.length !== levels.length) throw new GflInputError('options.strides', `expected ${levels.length} strides, one per level`);
    levels.forEach((hw, l) => {
      if (!Array.isArray(hw) || hw.length !== 2) throw new GflInputError(`options.levels[${l}]`, 'expected [H, W]');
      positiveInt(`options.levels[${l}][0]`, hw[0]); positiveInt(`options.levels[${l}][1]`, hw[1]);
      finiteNumber(`options.strides[${l}]`, st[l], { min: 0, minExclusive: true });
    });
    ({ points, strides } = makeAnchors(levels, st as number[]));
    if (points.length !== 2 * a) throw new GflInputError('options.levels', `Σ H·W = ${points.length / 2} anchors, but the inputs have ${a} per image`);
  }
  for (let i = 0; i < a; i++) if (!(strides[i] > 0 && Number.isFinite(strides[i]))) throw new GflInputError('options.strideTensor', `expected positive strides, got ${strides[i]} at ${i}`);
  const nc = rowsOf('input.predScores', inp.predScores, rows, `(B·A) × nc with B·A = ${rows}`);
  if (nc < 1) throw new GflInputError('input.predScores', 'expected at least one class');
  const scores = inp.predScores as Float32Array;
  const rowW = 4 * bins;
  const distri = f32Array('input.predDistri', inp.predDistri, rows * rowW);
  const tb = f32Array('input.targetBboxes', inp.targetBboxes, rows * 4);
  const ts = f32Array('input.targetScores', inp.targetScores, rows * nc);
  const gradScoresOut = outArray(out, 'gradPredScores', rows * nc);
  const gradDistriOut = outArray(out, 'gradPredDistri', rows * rowW);

  const idx = foregroundRows(fg, tb);
  const nfg = idx.length;

  // The target scores go into gfloss memory whole (not block by block during the class pass): their check and sum,
  // which the loss's normalisers need first, run there, in wasm on the calling thread, before any other work.
  const f = rt.frame();
  const pScores = f.streamIn(scores, nc), pTs = f.input(ts), pCoef = f.floats(rows);
  const pGradScores = f.floats(rows * nc, grad, gradScoresOut);
  const pPred = f.floats(nfg * rowW), pPoint = f.floats(nfg * 2), pStride = f.floats(nfg), pTarget = f.floats(nfg * 4), pW = f.floats(nfg);
  const pGradPos = f.floats(nfg * rowW, grad);
  const pIdx = grad ? f.input(idx) : 0;
  const pBox = f.floats(nfg * 4), pCorners = f.floats(nfg * 4), pCiou = f.floats(nfg), pDfl = f.floats(nfg), pScratch = f.floats(nfg * 16);
  // intermediates only: the Integral of every anchor's sides; its VJP buffer (with a zero upstream gradient) serves
  // as per-row scratch, so that blocks of rows never share memory
  const pAll = f.floats(rows * 4, wantInter), pAllGradX = f.floats(rows * rowW, wantInter), pZeros = f.floats(rows * 4, wantInter);
  const pDistri = wantInter ? f.input(distri) : 0;
  f.ready();
  const tssum = yield once('unitIntervalSum', [pTs, rows * nc]);
  if (tssum < 0) {
    const i = -1 - tssum;
    throw new GflInputError('input.targetScores', `expected values in [0, 1], got ${ts[i]} at index ${i}`);
  }
  // torch sums target_scores in float32; the float64 sum rounded once is within its error
  const tss = Math.max(Math.fround(tssum), 1);
  const boxCoef = gains.box * batch / tss, dflCoef = gains.dfl * batch / tss, clsCoef = gains.cls * batch / tss;
  gatherRows(distri, idx, rowW, f.view(pPred, nfg * rowW));
  gatherRows(tb, idx, 4, f.view(pTarget, nfg * 4));
  foregroundInputs(idx, a, nc, points, strides, ts, f.view(pPoint, nfg * 2), f.view(pStride, nfg), f.view(pW, nfg));
  f.view(pCoef, rows).fill(clsCoef);
  if (wantInter) rt.zero(f.view(pZeros, rows * 4));
  const positivesCall = kernelCall('yoloV8Positives',
    [pPred, pPoint, pStride, pTarget, pW, pGradPos, pBox, pCorners, pCiou, pDfl, pScratch, nfg, bins, boxCoef, dflCoef, 1e-7],
    [4 * rowW, 8, 4, 16, 4, 4 * rowW, 16, 16, 4, 4, 64, 'rows', 0, 0, 0, 0], nfg, rowW);
  positivesCall.rowsPerBlock = POSITIVES_PER_BLOCK;
  yield positivesCall;
  // BCE with soft targets = QFL β = 0 in the dense form
  const gradPredScores = grad ? f.streamOut(pGradScores, gradScoresOut ?? new Float32Array(rows * nc), nc) : undefined;
  const lossCls = yield kernelCall('qflLogitsDense', [pScores, pTs, pCoef, 0, 0, pGradScores, 0, rows, nc, 0],
    [4 * nc, 4 * nc, 4, 0, 0, 4 * nc, 4 * nc, 'rows', 0, 0], rows, nc, f);

  const ciou = f.view(pCiou, nfg), dfl = f.view(pDfl, nfg), w = f.view(pW, nfg);
  let sumBox = 0, sumDfl = 0;
  for (let k = 0; k < nfg; k++) { sumBox += w[k] * Math.fround(1 - ciou[k]); sumDfl += w[k] * dfl[k]; }
  const lossBox = sumBox * boxCoef, lossDfl = sumDfl * dflCoef;
  const res: YoloV8Result = {
    loss: lossBox + lossCls + lossDfl, lossBox, lossCls, lossDfl,
    lossItems: [lossBox / batch, lossCls / batch, lossDfl / batch], targetScoresSum: tss,
  };
  if (wantInter) {
    // decoded boxes of every anchor, as bbox_decode computes them for all anchors (only the foreground ones enter the loss)
    yield kernelCall('integral', [pDistri, pAll, pZeros, pAllGradX, 0, rows * 4, bins], [4 * bins, 4, 4, 4 * bins, 0, 'rows', 0], rows * 4, bins);
    const d = f.view(pAll, rows * 4);
    const boxes = new Float32Array(rows * 4);
    for (let i = 0; i < rows; i++) {
      const ai = i % a, px = points[2 * ai], py = points[2 * ai + 1];
      boxes[4 * i] = px - d[4 * i]; boxes[4 * i + 1] = py - d[4 * i + 1];
      boxes[4 * i + 2] = px + d[4 * i + 2]; boxes[4 * i + 3] = py + d[4 * i + 3];
    }
    res.intermediates = {
      anchorPoints: points, strideTensor: strides, predBboxes: boxes,
      fgCiou: f.take(pCiou, nfg), fgDfl: f.take(pDfl, nfg), fgDflTarget: f.take(pCorners, nfg * 4),
    };
  }
  if (grad) {
    res.gradPredScores = gradPredScores;
    res.gradPredDistri = expandRows(rt, f.view(pGradPos, nfg * rowW), idx, pIdx, rowW, gradDistriOut ?? new Float32Array(rows * rowW), !gradDistriOut);
  }
  return res;
}
