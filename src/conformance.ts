// Runs golden cases (the schema of cases produced by executing the upstream PyTorch code: mmdetection v3.1,
// ultralytics 8.3, the paper's official GFocal) through the public API, and compares the results with the case's own
// values under its tolerance hints. Used by `gfloss conformance` and by the test suite.
import type { Gfl } from './index.js';
import { DETECT_RUNNERS } from './conformance-detect.js';

export interface Tensor {
  shape: number[];
  dtype: 'float32' | 'float64' | 'int64' | 'bool';
  data: number[] | string;
  encoding?: 'base64-le';
}

export interface GoldenCase {
  schema_version?: number;
  name: string;
  op: string;
  params: Record<string, unknown>;
  inputs: Record<string, Tensor>;
  outputs: Record<string, Tensor>;
  grads: Record<string, Record<string, Tensor>>;
  tolerance_hint?: {
    outputs?: Record<string, Tolerance>;
    grads?: Record<string, Record<string, Tolerance>>;
  };
}

export interface Tolerance { rtol?: number; atol?: number; exact?: boolean }

/** What the package computed for a case: the same field names as the case, flat float arrays. */
export interface CaseResult {
  outputs: Record<string, Float32Array>;
  grads: Record<string, Record<string, Float32Array>>;
  /** Case fields the runner deliberately does not emit (debugging intermediates); compareCase skips them. */
  unchecked?: string[];
}

export class UnsupportedOpError extends Error {
  constructor(readonly op: string, reason: string) {
    super(`op ${op} is not supported: ${reason}`);
    this.name = 'UnsupportedOpError';
  }
}

// ---------------------------------------------------------------------------------------------
// tensor codec

function base64ToBytes(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function bytesToBase64(b: Uint8Array): string {
  let s = '';
  const CH = 0x8000;
  for (let i = 0; i < b.length; i += CH) s += String.fromCharCode(...b.subarray(i, i + CH));
  return btoa(s);
}

function parseNumber(v: number | string): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return Number(v);
}

/** The values of a tensor as float64 numbers (exact for float32, int64 within 2^53, bool as 0/1). */
export function decodeTensor(t: Tensor): Float64Array {
  if (t.encoding === 'base64-le') {
    const bytes = base64ToBytes(t.data as string);
    const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    if (t.dtype === 'float64') return new Float64Array(buf);
    if (t.dtype === 'float32') return Float64Array.from(new Float32Array(buf));
    throw new Error(`base64 tensors of dtype ${t.dtype} are not part of the schema`);
  }
  return Float64Array.from((t.data as Array<number | string>).map(parseNumber));
}

export function f32(t: Tensor): Float32Array {
  return Float32Array.from(decodeTensor(t));
}

export function i32(t: Tensor): Int32Array {
  return Int32Array.from(decodeTensor(t));
}

/** Encodes float32 results in the golden schema (base64 above 4096 elements; non-finite values as strings). */
export function encodeTensor(shape: number[], data: Float32Array): Tensor {
  if (data.length > 4096) {
    const copy = new Float32Array(data);
    return { shape, dtype: 'float32', encoding: 'base64-le', data: bytesToBase64(new Uint8Array(copy.buffer)) };
  }
  const values = Array.from(data, (v) => (Number.isFinite(v) ? v : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity'));
  return { shape, dtype: 'float32', data: values as number[] };
}

// ---------------------------------------------------------------------------------------------
// op runners

type Runner = (g: Gfl, c: GoldenCase) => CaseResult;

const num = (v: unknown, fallback?: number): number => {
  if (typeof v === 'number') return v;
  if (fallback !== undefined) return fallback;
  throw new Error(`expected a number parameter, got ${String(v)}`);
};

const scalar = (v: number): Float32Array => Float32Array.of(v);

/** Inputs named `grad_output` are cotangents; the `vjp` objective is Σ loss_none·grad_output. */
function qflLabelForm(g: Gfl, c: GoldenCase, activated: boolean): CaseResult {
  const pred = f32(c.inputs.pred), label = i32(c.inputs.label), score = f32(c.inputs.score);
  const weight = c.inputs.weight ? f32(c.inputs.weight) : undefined;
  const beta = num(c.params.beta, 2);
  const input = { pred, label, score };
  const base = { beta, activated };
  const none = g.qualityFocalLossSync(input, { ...base, reduction: 'none', returnElementLoss: true });
  const res: CaseResult = {
    outputs: {
      loss_none: none.rowLoss!,
      loss_sum: scalar(none.loss),
      loss_mean: scalar(g.qualityFocalLossSync(input, { ...base, grad: false }).loss),
      loss_elementwise: none.elementLoss!,
    },
    grads: { loss_sum: { pred: none.gradPred!, score: none.gradScore! } },
  };
  if (c.inputs.grad_output) {
    const v = g.qualityFocalLossSync(input, { ...base, reduction: 'none', gradOutput: f32(c.inputs.grad_output) });
    res.grads.vjp = { pred: v.gradPred!, score: v.gradScore! };
  }
  if (c.params.avg_factor !== undefined) {
    const w = g.qualityFocalLossSync(input, {
      ...base, weight, avgFactor: num(c.params.avg_factor), lossWeight: num(c.params.loss_weight, 1),
    });
    res.outputs.loss_weighted_avg = scalar(w.loss);
    res.grads.loss_weighted_avg = { pred: w.gradPred!, score: w.gradScore! };
  }
  return res;
}

function qflDense(g: Gfl, c: GoldenCase): CaseResult {
  const pred = f32(c.inputs.pred), target = f32(c.inputs.target);
  const weight = c.inputs.weight ? f32(c.inputs.weight) : undefined;
  const numClasses = c.inputs.pred.shape[1];
  const base = { beta: num(c.params.beta, 2), activated: c.params.activated === true, numClasses };
  const input = { pred, target };
  const none = g.qualityFocalLossDenseSync(input, { ...base, reduction: 'none' });
  const res: CaseResult = {
    outputs: { loss_none: none.rowLoss!, loss_sum: scalar(none.loss) },
    grads: { loss_sum: { pred: none.gradPred!, target: none.gradTarget! } },
  };
  if (c.inputs.grad_output) {
    const v = g.qualityFocalLossDenseSync(input, { ...base, reduction: 'none', gradOutput: f32(c.inputs.grad_output) });
    res.grads.vjp = { pred: v.gradPred!, target: v.gradTarget! };
  }
  // the case's avg_factor is the number of non-zero targets (at least 1), as a GFL-style caller computes it
  let nonZero = 0;
  for (const t of target) if (t !== 0) nonZero++;
  const w = g.qualityFocalLossDenseSync(input, { ...base, weight, avgFactor: Math.max(nonZero, 1) });
  res.outputs.loss_weighted_avg = scalar(w.loss);
  res.grads.loss_weighted_avg = { pred: w.gradPred!, target: w.gradTarget! };
  return res;
}

function focal(g: Gfl, c: GoldenCase): CaseResult {
  const pred = f32(c.inputs.pred), label = i32(c.inputs.label);
  const weight = c.inputs.weight ? f32(c.inputs.weight) : undefined;
  const base = { alpha: num(c.params.alpha, 0.25), gamma: num(c.params.gamma, 2), numClasses: c.inputs.pred.shape[1] };
  const input = { pred, label };
  const none = g.sigmoidFocalLossSync(input, { ...base, reduction: 'none' });
  const res: CaseResult = {
    outputs: {
      loss_none: none.elementLoss!,
      loss_sum: scalar(none.loss),
      loss_mean: scalar(g.sigmoidFocalLossSync(input, { ...base, grad: false }).loss),
    },
    grads: { loss_sum: { pred: none.gradPred! } },
  };
  if (c.inputs.grad_output) {
    res.grads.vjp = { pred: g.sigmoidFocalLossSync(input, { ...base, reduction: 'none', gradOutput: f32(c.inputs.grad_output) }).gradPred! };
  }
  if (c.params.avg_factor !== undefined) {
    const w = g.sigmoidFocalLossSync(input, { ...base, weight, avgFactor: num(c.params.avg_factor) });
    res.outputs.loss_weighted_avg = scalar(w.loss);
    res.grads.loss_weighted_avg = { pred: w.gradPred! };
  }
  return res;
}

function dflMmdet(g: Gfl, c: GoldenCase): CaseResult {
  const pred = f32(c.inputs.pred), target = f32(c.inputs.label);
  const weight = c.inputs.weight ? f32(c.inputs.weight) : undefined;
  const bins = c.inputs.pred.shape[1];
  const input = { pred, target };
  const none = g.distributionFocalLossSync(input, { bins, reduction: 'none' });
  const res: CaseResult = {
    outputs: {
      loss_none: none.rowLoss!,
      loss_sum: scalar(none.loss),
      loss_mean: scalar(g.distributionFocalLossSync(input, { bins, grad: false }).loss),
    },
    grads: { loss_sum: { pred: none.gradPred!, label: none.gradTarget! } },
  };
  if (c.inputs.grad_output) {
    const v = g.distributionFocalLossSync(input, { bins, reduction: 'none', gradOutput: f32(c.inputs.grad_output) });
    res.grads.vjp = { pred: v.gradPred!, label: v.gradTarget! };
  }
  if (c.params.avg_factor !== undefined) {
    const w = g.distributionFocalLossSync(input, {
      bins, weight, avgFactor: num(c.params.avg_factor), lossWeight: num(c.params.loss_weight_for_weighted_avg, 1),
    });
    res.outputs.loss_weighted_avg = scalar(w.loss);
    res.grads.loss_weighted_avg = { pred: w.gradPred!, label: w.gradTarget! };
  }
  return res;
}

/** ultralytics DFLoss: rows 4k + side, loss per box = mean of its four sides. */
function dflUltralytics(g: Gfl, c: GoldenCase): CaseResult {
  const pred = f32(c.inputs.pred_dist), target = f32(c.inputs.target);
  const bins = c.inputs.pred_dist.shape[1];
  const boxes = c.inputs.target.shape[0];
  const input = { pred, target };
  const opts = { bins, convention: 'ultralytics' as const, reduction: 'none' as const, lossWeight: 0.25 };
  const none = g.distributionFocalLossSync(input, opts);
  const perBox = new Float32Array(boxes);
  for (let k = 0; k < boxes; k++) {
    const r = none.rowLoss!;
    perBox[k] = r[4 * k] + r[4 * k + 1] + r[4 * k + 2] + r[4 * k + 3];
  }
  const res: CaseResult = { outputs: { loss: perBox }, grads: { sum: { pred_dist: none.gradPred! } } };
  if (c.inputs.grad_output) {
    const go = f32(c.inputs.grad_output);
    const perSide = new Float32Array(4 * boxes);
    for (let i = 0; i < perSide.length; i++) perSide[i] = go[i >> 2];
    res.grads.vjp = { pred_dist: g.distributionFocalLossSync(input, { ...opts, gradOutput: perSide }).gradPred! };
  }
  return res;
}

function integralMmdet(g: Gfl, c: GoldenCase): CaseResult {
  const x = f32(c.inputs.x);
  const bins = num(c.params.reg_max) + 1;
  const rows = x.length / bins;
  const ones = new Float32Array(rows).fill(1);
  const r = g.integralSync({ x }, { bins, gradOutput: ones });
  const res: CaseResult = { outputs: { y: r.y }, grads: { sum: { x: r.gradX! } } };
  if (c.inputs.grad_output) res.grads.vjp = { x: g.integralSync({ x }, { bins, gradOutput: f32(c.inputs.grad_output) }).gradX! };
  return res;
}

/** ultralytics DFL module: x is (B, 4·c1, A) with channel = side·c1 + bin; y is (B, 4, A). */
function integralUltralytics(g: Gfl, c: GoldenCase): CaseResult {
  const [b, ch, a] = c.inputs.x.shape;
  const bins = num(c.params.c1);
  const sides = ch / bins;
  const xc = f32(c.inputs.x);
  // to rows (b, side, a) × bins
  const rows = b * sides * a;
  const x = new Float32Array(rows * bins);
  const rowOf = (bi: number, s: number, ai: number) => (bi * sides + s) * a + ai;
  for (let bi = 0; bi < b; bi++) for (let s = 0; s < sides; s++) for (let k = 0; k < bins; k++) for (let ai = 0; ai < a; ai++) {
    x[rowOf(bi, s, ai) * bins + k] = xc[(bi * ch + s * bins + k) * a + ai];
  }
  const back = (gx: Float32Array) => {
    const outp = new Float32Array(xc.length);
    for (let bi = 0; bi < b; bi++) for (let s = 0; s < sides; s++) for (let k = 0; k < bins; k++) for (let ai = 0; ai < a; ai++) {
      outp[(bi * ch + s * bins + k) * a + ai] = gx[rowOf(bi, s, ai) * bins + k];
    }
    return outp;
  };
  const r = g.integralSync({ x }, { bins, gradOutput: new Float32Array(rows).fill(1) });
  const res: CaseResult = { outputs: { y: r.y }, grads: { sum: { x: back(r.gradX!) } } };
  if (c.inputs.grad_output) res.grads.vjp = { x: back(g.integralSync({ x }, { bins, gradOutput: f32(c.inputs.grad_output) }).gradX!) };
  return res;
}

function giouMmdet(g: Gfl, c: GoldenCase): CaseResult {
  const pred = f32(c.inputs.pred), target = f32(c.inputs.target);
  const weight = c.inputs.weight ? f32(c.inputs.weight) : undefined;
  const eps = num(c.params.eps, 1e-6);
  const input = { pred, target };
  const none = g.giouLossSync(input, { eps, reduction: 'none', returnIou: true, returnGiou: true });
  const res: CaseResult = {
    outputs: { loss_none: none.rowLoss!, loss_sum: scalar(none.loss), giou: none.giou!, iou: none.iou! },
    grads: { loss_sum: { pred: none.gradPred!, target: none.gradTarget! } },
  };
  if (c.inputs.grad_output) {
    const v = g.giouLossSync(input, { eps, reduction: 'none', gradOutput: f32(c.inputs.grad_output) });
    res.grads.vjp = { pred: v.gradPred!, target: v.gradTarget! };
  }
  // GFLHead's call: GIoULoss(loss_weight=2)(pred, target, weight, avg_factor=1)
  const w = g.giouLossSync(input, { eps, weight, avgFactor: 1, lossWeight: 2 });
  res.outputs.loss_weighted_gfl = scalar(w.loss);
  res.grads.loss_weighted_gfl = { pred: w.gradPred!, target: w.gradTarget! };
  return res;
}

function ciouUltralytics(g: Gfl, c: GoldenCase): CaseResult {
  const pred = f32(c.inputs.box1), target = f32(c.inputs.box2);
  const eps = num(c.params.eps, 1e-7);
  const input = { pred, target };
  const none = g.ciouLossSync(input, { eps, reduction: 'none', returnCiou: true, returnIou: true, returnGiou: true });
  const res: CaseResult = {
    outputs: { ciou: none.ciou!, iou: none.iou!, giou_ultralytics: none.giou! },
    grads: { loss_sum: { box1: none.gradPred!, box2: none.gradTarget! } },
  };
  if (c.inputs.grad_output) {
    // this case's vjp objective is Σ grad_output·CIoU (CIoU itself, not the loss 1 − CIoU): negate the cotangent
    const go = f32(c.inputs.grad_output).map((v) => -v);
    const v = g.ciouLossSync(input, { eps, reduction: 'none', gradOutput: go });
    res.grads.vjp = { box1: v.gradPred!, box2: v.gradTarget! };
  }
  return res;
}

/** The paper's official code: labels 1..C (0 = background), per-element loss reduced without summing classes first. */
function qflOfficial(g: Gfl, c: GoldenCase): CaseResult {
  const pred = f32(c.inputs.pred), label1 = i32(c.inputs.label_1based), score = f32(c.inputs.score);
  const label = label1.map((v) => v - 1); // background 0 → −1, a negative row
  const beta = num(c.params.beta, 2);
  if (beta % 2 !== 0) {
    // upstream raises (y − σ) to β without abs(): identical to |y − σ|^β only for even β
    throw new UnsupportedOpError(c.op, `beta ${beta}: the official code's pt.pow(beta) without abs() equals ours only for even beta`);
  }
  const none = g.qualityFocalLossSync({ pred, label, score }, { beta, reduction: 'none', returnElementLoss: true });
  return {
    outputs: { loss_none_NxC: none.elementLoss!, loss_sum: scalar(none.loss), mmdet_equivalent_loss_none: none.rowLoss! },
    grads: { loss_sum: { pred: none.gradPred! } },
  };
}

function giouOfficial(g: Gfl, c: GoldenCase): CaseResult {
  const pred = f32(c.inputs.pred), target = f32(c.inputs.target);
  const eps = num(c.params.eps, 1e-6);
  const input = { pred, target };
  const plus1 = g.giouLossSync(input, { eps, convention: 'gfocal', reduction: 'none', returnIou: true });
  const mm = g.giouLossSync(input, { eps, reduction: 'none', returnIou: true, grad: false });
  return {
    outputs: { loss_none_plus1: plus1.rowLoss!, iou_target_plus1: plus1.iou!, mmdet_loss_none: mm.rowLoss!, mmdet_iou: mm.iou! },
    grads: { loss_sum_plus1: { pred: plus1.gradPred!, target: plus1.gradTarget! } },
  };
}

/** mmdetection GFLHead.loss_by_feat: one run per objective (the loss weights of the other terms set to 0). */
function gflHead(g: Gfl, c: GoldenCase): CaseResult {
  const p = c.params;
  const lw = (p.loss_weights ?? {}) as Record<string, number>;
  const weights = { cls: num(lw.qfl, 1), bbox: num(lw.giou, 2), dfl: num(lw.dfl, 0.25) };
  const input = {
    clsScore: f32(c.inputs.cls_score), bboxPred: f32(c.inputs.bbox_pred), anchors: f32(c.inputs.anchors),
    stride: f32(c.inputs.stride), labels: i32(c.inputs.labels), labelWeights: f32(c.inputs.label_weights),
    bboxTargets: f32(c.inputs.bbox_targets),
  };
  const base = {
    numClasses: num(p.num_classes, c.inputs.cls_score.shape[1]), bins: num(p.reg_max, 16) + 1, beta: num(p.qfl_beta, 2),
    numImages: num(p.batch_size, 1), levels: p.level_shapes_HW as Array<[number, number]>,
    ...(p.qfl_avg_factor !== undefined ? { avgFactor: num(p.qfl_avg_factor) } : {}),
  };
  const r = g.gflHeadLossSync(input, { ...base, lossWeight: weights, returnPerLevel: true, returnIntermediates: true });
  const it = r.intermediates!, pl = r.perLevel!;
  const res: CaseResult = {
    outputs: {
      loss_cls: scalar(r.lossCls), loss_bbox: scalar(r.lossBbox), loss_dfl: scalar(r.lossDfl), loss_total: scalar(r.loss),
      loss_cls_per_level: Float32Array.from(pl.lossCls), loss_bbox_per_level: Float32Array.from(pl.lossBbox),
      loss_dfl_per_level: Float32Array.from(pl.lossDfl),
      qfl_score_target: it.qflScoreTarget, pos_inds: Float32Array.from(it.posInds), weight_targets: it.weightTargets,
      bbox_avg_factor: scalar(it.bboxAvgFactor), pos_decoded_pred_boxes: it.posDecodedPredBoxes,
      pos_decoded_target_boxes: it.posDecodedTargetBoxes, dfl_target_corners: it.dflTargetCorners,
    },
    grads: { loss_total: { cls_score: r.gradClsScore!, bbox_pred: r.gradBboxPred! } },
  };
  const only = { loss_cls: 'cls', loss_bbox: 'bbox', loss_dfl: 'dfl' } as const;
  for (const [obj, key] of Object.entries(only)) {
    if (!c.grads[obj]) continue;
    const w = { cls: 0, bbox: 0, dfl: 0, [key]: weights[key] };
    const o = g.gflHeadLossSync(input, { ...base, lossWeight: w });
    res.grads[obj] = { cls_score: o.gradClsScore!, bbox_pred: o.gradBboxPred! };
  }
  return res;
}

/** ultralytics v8DetectionLoss.__call__ with the assignment given: one run per objective (other gains 0). */
function yoloV8(g: Gfl, c: GoldenCase): CaseResult {
  const p = c.params;
  const gn = (p.gains ?? {}) as Record<string, number>;
  const gains = { box: num(gn.box, 7.5), cls: num(gn.cls, 0.5), dfl: num(gn.dfl, 1.5) };
  const input = {
    predScores: f32(c.inputs.pred_scores), predDistri: f32(c.inputs.pred_distri), targetBboxes: f32(c.inputs.target_bboxes),
    targetScores: f32(c.inputs.target_scores), fgMask: Uint8Array.from(decodeTensor(c.inputs.fg_mask)),
  };
  const base = {
    levels: p.level_shapes_HW as Array<[number, number]>, strides: p.strides as number[],
    batchSize: num(p.batch_size, c.inputs.pred_scores.shape[0]), bins: num(p.reg_max, 16),
  };
  const r = g.yoloV8LossSync(input, { ...base, gains, returnIntermediates: true });
  const it = r.intermediates!;
  const res: CaseResult = {
    outputs: {
      loss_scaled: Float32Array.of(r.lossBox, r.lossCls, r.lossDfl), loss_items: Float32Array.from(r.lossItems),
      loss_total: scalar(r.loss), target_scores_sum: scalar(r.targetScoresSum), anchor_points: it.anchorPoints,
      stride_tensor: it.strideTensor, pred_bboxes_grid: it.predBboxes, fg_ciou: it.fgCiou, fg_dfl: it.fgDfl,
      fg_dfl_target_ltrb: it.fgDflTarget,
    },
    grads: { loss_total: { pred_scores: r.gradPredScores!, pred_distri: r.gradPredDistri! } },
  };
  for (const key of ['box', 'cls', 'dfl'] as const) {
    if (!c.grads[key]) continue;
    const o = g.yoloV8LossSync(input, { ...base, gains: { box: 0, cls: 0, dfl: 0, [key]: gains[key] } });
    res.grads[key] = { pred_scores: o.gradPredScores!, pred_distri: o.gradPredDistri! };
  }
  return res;
}

const RUNNERS: Record<string, Runner> = {
  'mmdet.quality_focal_loss': (g, c) => qflLabelForm(g, c, c.params.activated === true),
  'mmdet.quality_focal_loss_with_prob': (g, c) => qflLabelForm(g, c, true),
  'mmdet.quality_focal_loss_tensor_target': qflDense,
  'mmdet.FocalLoss(use_sigmoid=True)': focal,
  'mmdet.distribution_focal_loss': dflMmdet,
  'mmdet.Integral': integralMmdet,
  'mmdet.GIoULoss': giouMmdet,
  'ultralytics.nn.modules.block.DFL': integralUltralytics,
  'ultralytics.utils.loss.DFLoss': dflUltralytics,
  'ultralytics.utils.metrics.bbox_iou(CIoU=True)': ciouUltralytics,
  'implus/GFocal quality_focal_loss': qflOfficial,
  'implus/GFocal giou_loss + GFLHead.iou_target': giouOfficial,
  'mmdet.GFLHead.loss_by_feat': gflHead,
  'ultralytics.utils.loss.v8DetectionLoss': yoloV8,
  // assignment, decode and NMS (conformance-detect.ts)
  ...DETECT_RUNNERS,
};

/** Ops that belong to later work. */
const NOT_YET: Record<string, string> = {};

export const SUPPORTED_OPS: readonly string[] = Object.keys(RUNNERS);

export function runCase(g: Gfl, c: GoldenCase): CaseResult {
  const run = RUNNERS[c.op];
  if (!run) throw new UnsupportedOpError(c.op, NOT_YET[c.op] ?? 'unknown op');
  return run(g, c);
}

// ---------------------------------------------------------------------------------------------
// output document and comparison

/** The document `gfloss conformance` writes: name, backend, and every field of the case that was computed. */
export function resultDocument(c: GoldenCase, backend: string, r: CaseResult): Record<string, unknown> {
  const outputs: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(c.outputs)) if (r.outputs[k]) outputs[k] = encodeTensor(t.shape, r.outputs[k]);
  const grads: Record<string, Record<string, Tensor>> = {};
  for (const [obj, byInput] of Object.entries(c.grads)) {
    for (const [inp, t] of Object.entries(byInput)) {
      const v = r.grads[obj]?.[inp];
      if (v) (grads[obj] ??= {})[inp] = encodeTensor(t.shape, v);
    }
  }
  return { name: c.name, op: c.op, backend, outputs, grads };
}

export interface FieldCheck {
  field: string;
  pass: boolean;
  /** max |ours − golden| */
  maxAbsErr: number;
  /** max of |ours − golden| / (atol + rtol·|golden|): ≤ 1 passes */
  worstRatio: number;
  worstIndex: number;
  missing?: boolean;
}

function checkField(field: string, golden: Tensor, ours: Float32Array | undefined, tol: Tolerance | undefined): FieldCheck {
  if (!ours) return { field, pass: false, maxAbsErr: NaN, worstRatio: Infinity, worstIndex: -1, missing: true };
  const g = decodeTensor(golden);
  if (g.length !== ours.length) return { field, pass: false, maxAbsErr: NaN, worstRatio: Infinity, worstIndex: -1, missing: true };
  const exact = tol?.exact === true;
  const rtol = exact ? 0 : tol?.rtol ?? 1e-5;
  const atol = exact ? 0 : tol?.atol ?? 1e-6;
  let maxAbs = 0, worst = 0, worstIndex = -1;
  for (let i = 0; i < g.length; i++) {
    const a = ours[i], b = g[i];
    if (Number.isNaN(b) || Number.isNaN(a)) {
      if (Number.isNaN(a) !== Number.isNaN(b)) { worst = Infinity; worstIndex = i; maxAbs = NaN; }
      continue;
    }
    if (a === b) continue;
    const err = Math.abs(a - b);
    const bound = atol + rtol * Math.abs(b);
    const ratio = bound === 0 ? Infinity : err / bound;
    if (!(err <= maxAbs)) maxAbs = err;
    if (ratio > worst) { worst = ratio; worstIndex = i; }
  }
  return { field, pass: worst <= 1, maxAbsErr: maxAbs, worstRatio: worst, worstIndex };
}

/** Checks every output and gradient field the case holds. */
export function compareCase(c: GoldenCase, r: CaseResult): FieldCheck[] {
  const checks: FieldCheck[] = [];
  for (const [k, t] of Object.entries(c.outputs)) {
    if (r.unchecked?.includes(k) && !r.outputs[k]) continue;
    checks.push(checkField(`outputs.${k}`, t, r.outputs[k], c.tolerance_hint?.outputs?.[k]));
  }
  for (const [obj, byInput] of Object.entries(c.grads)) {
    for (const [inp, t] of Object.entries(byInput)) {
      checks.push(checkField(`grads.${obj}.${inp}`, t, r.grads[obj]?.[inp], c.tolerance_hint?.grads?.[obj]?.[inp]));
    }
  }
  return checks;
}
