// Quality Focal Loss: mmdetection v3.1 `quality_focal_loss` (logits), `quality_focal_loss_with_prob`
// (`activated: true`) and `quality_focal_loss_tensor_target` (dense soft targets).
import { GflInputError } from '../errors.js';
import { kernelCall, type WasmRuntime, type Op } from '../wasm/runtime.js';
import { once } from './nms.js';
import { f32Array, i32Array, finiteNumber, plainObject, knownKeys, positiveInt, allInRange, rowsOf, bool, outArray } from '../validate.js';
import { planReduction, fillCoef, weighRows, sumOf, REDUCE_KEYS, type ReduceOptions } from './reduce.js';

export interface QflInput {
  /** Logits (or probabilities with `activated`), N × C row-major. */
  pred: Float32Array;
  /** Class of each row's positive; any value outside [0, C) (background C, or −1) makes the row a negative. */
  label: Int32Array;
  /** IoU target of each row, in [0, 1]; read at positive rows only. */
  score: Float32Array;
}

export interface QflDenseInput {
  /** Logits (or probabilities with `activated`), N × C row-major. */
  pred: Float32Array;
  /** Soft targets in [0, 1], N × C; every non-zero entry is a positive. */
  target: Float32Array;
}

export interface QflOptions extends ReduceOptions {
  /** Exponent of the modulating factor |y − σ|^β. Default 2. */
  beta?: number;
  /** `pred` holds probabilities instead of logits. Default false. */
  activated?: boolean;
  /** C. Required for the dense form; for the label form it defaults to pred.length / label.length. */
  numClasses?: number;
  /** Compute gradients. Default true. */
  grad?: boolean;
  /** Also return the per-row losses (always returned for reduction 'none'). */
  returnRowLoss?: boolean;
  /** Also return the per-element losses (N × C), weighted like the rows. */
  returnElementLoss?: boolean;
  /** Preallocated outputs (a training loop then allocates nothing per call). */
  out?: { gradPred?: Float32Array; gradScore?: Float32Array; gradTarget?: Float32Array; rowLoss?: Float32Array; elementLoss?: Float32Array };
}

export interface QflResult {
  /** The reduced loss; for reduction 'none', the sum of `rowLoss`. */
  loss: number;
  /** Per-row losses (lossWeight·weight·L), for reduction 'none' or `returnRowLoss`. */
  rowLoss?: Float32Array;
  elementLoss?: Float32Array;
  /** ∂loss/∂pred (for 'none': ∂Σ gradOutput·rowLoss/∂pred). */
  gradPred?: Float32Array;
  /** ∂loss/∂score (label form). */
  gradScore?: Float32Array;
  /** ∂loss/∂target (dense form; zero where the target is zero). */
  gradTarget?: Float32Array;
}

const KEYS = [...REDUCE_KEYS, 'beta', 'activated', 'numClasses', 'grad', 'returnRowLoss', 'returnElementLoss', 'out'];

function commonOptions(o: Record<string, unknown>) {
  knownKeys('options', o, KEYS);
  const beta = o.beta === undefined ? 2 : finiteNumber('options.beta', o.beta, { min: 0 });
  const activated = o.activated === undefined ? false : bool('options.activated', o.activated);
  const grad = o.grad === undefined ? true : bool('options.grad', o.grad);
  const out = plainObject('options.out', o.out);
  return { beta, activated, grad, out };
}

export function* qualityFocalLoss(rt: WasmRuntime, input: QflInput, options?: QflOptions): Op<QflResult> {
  const inp = plainObject('input', input);
  const o = plainObject('options', options);
  const { beta, activated, grad, out } = commonOptions(o);
  const label = inp.label;
  if (!(label instanceof Int32Array)) i32Array('input.label', label, 0);
  const n = (label as Int32Array).length;
  let c: number;
  if (o.numClasses !== undefined) c = positiveInt('options.numClasses', o.numClasses);
  else {
    if (n === 0) throw new GflInputError('options.numClasses', 'required when there are no rows');
    c = rowsOf('input.pred', inp.pred, n, `N × C with N = ${n} rows`);
    if (c < 1) throw new GflInputError('input.pred', 'expected at least one class');
  }
  const pred = f32Array('input.pred', inp.pred, n * c);
  const score = f32Array('input.score', inp.score, n);
  const lab = label as Int32Array;
  if (activated) allInRange('input.pred', pred, 0, 1, false);
  const plan = planReduction(o, n, n, n);
  const wantRows = plan.reduction === 'none' || o.returnRowLoss === true;
  const wantElems = o.returnElementLoss === true;
  const gradPredOut = outArray(out, 'gradPred', n * c);
  const gradScoreOut = outArray(out, 'gradScore', n);
  const rowOut = outArray(out, 'rowLoss', n);
  const elemOut = outArray(out, 'elementLoss', n * c);

  const f = rt.frame();
  const pPred = f.streamIn(pred, c), pLabel = f.input(lab), pScore = f.input(score);
  const pCoef = f.floats(n);
  const pRow = f.floats(n, wantRows, rowOut), pElem = f.floats(n * c, wantElems, elemOut);
  const pGrad = f.floats(n * c, grad, gradPredOut), pGradScore = f.floats(n, grad, gradScoreOut);
  f.ready();
  // the positive rows' IoU targets, checked in wasm on this thread before any output is written
  const bad = yield once('qflScoreCheck', [pLabel, pScore, n, c]);
  if (bad >= 0) throw new GflInputError('input.score', `expected values in [0, 1] at positive rows, got ${score[bad]} at row ${bad}`);
  fillCoef(plan, f.view(pCoef, n), true);
  const gradPred = grad ? f.streamOut(pGrad, gradPredOut ?? new Float32Array(n * c), c) : undefined;
  const total = activated
    ? yield kernelCall('qflProb', [pPred, pLabel, pScore, 0, pCoef, pRow, pElem, pGrad, pGradScore, n, c, beta],
      [4 * c, 4, 4, 0, 4, 4, 4 * c, 4 * c, 4, 'rows', 0, 0], n, c, f)
    : yield kernelCall('qflLogits', [pPred, pLabel, pScore, pCoef, pRow, pElem, pGrad, pGradScore, n, c, beta],
      [4 * c, 4, 4, 4, 4, 4 * c, 4 * c, 4, 'rows', 0, 0], n, c, f);
  const res: QflResult = { loss: total };
  if (wantRows) {
    res.rowLoss = weighRows(plan, f.take(pRow, n, rowOut), 1);
    if (plan.reduction === 'none') res.loss = sumOf(res.rowLoss);
  }
  if (wantElems) res.elementLoss = weighRows(plan, f.take(pElem, n * c, elemOut), c);
  if (grad) {
    res.gradPred = gradPred;
    res.gradScore = f.take(pGradScore, n, gradScoreOut);
  }
  return res;
}

export function* qualityFocalLossDense(rt: WasmRuntime, input: QflDenseInput, options?: QflOptions): Op<QflResult> {
  const inp = plainObject('input', input);
  const o = plainObject('options', options);
  const { beta, activated, grad, out } = commonOptions(o);
  if (o.numClasses === undefined) throw new GflInputError('options.numClasses', 'required for dense targets (C, the row width)');
  const c = positiveInt('options.numClasses', o.numClasses);
  const n = rowsOf('input.pred', inp.pred, c, `N × ${c}`);
  const pred = inp.pred as Float32Array;
  const target = f32Array('input.target', inp.target, n * c);
  allInRange('input.target', target, 0, 1, false);
  if (activated) allInRange('input.pred', pred, 0, 1, false);
  const plan = planReduction(o, n, n, n);
  const wantRows = plan.reduction === 'none' || o.returnRowLoss === true;
  const wantElems = o.returnElementLoss === true;
  const gradPredOut = outArray(out, 'gradPred', n * c);
  const gradTargetOut = outArray(out, 'gradTarget', n * c);
  const rowOut = outArray(out, 'rowLoss', n);
  const elemOut = outArray(out, 'elementLoss', n * c);

  const f = rt.frame();
  const pPred = f.streamIn(pred, c), pTarget = f.streamIn(target, c);
  const pCoef = f.floats(n);
  const pRow = f.floats(n, wantRows, rowOut), pElem = f.floats(n * c, wantElems, elemOut);
  const pGrad = f.floats(n * c, grad, gradPredOut), pGradTarget = f.floats(n * c, grad, gradTargetOut);
  f.ready();
  fillCoef(plan, f.view(pCoef, n), true);
  const gradPred = grad ? f.streamOut(pGrad, gradPredOut ?? new Float32Array(n * c), c) : undefined;
  const gradTarget = grad ? f.streamOut(pGradTarget, gradTargetOut ?? new Float32Array(n * c), c) : undefined;
  const total = activated
    ? yield kernelCall('qflProb', [pPred, 0, 0, pTarget, pCoef, pRow, pElem, pGrad, pGradTarget, n, c, beta],
      [4 * c, 0, 0, 4 * c, 4, 4, 4 * c, 4 * c, 4 * c, 'rows', 0, 0], n, c, f)
    : yield kernelCall('qflLogitsDense', [pPred, pTarget, pCoef, pRow, pElem, pGrad, pGradTarget, n, c, beta],
      [4 * c, 4 * c, 4, 4, 4 * c, 4 * c, 4 * c, 'rows', 0, 0], n, c, f);
  const res: QflResult = { loss: total };
  if (wantRows) {
    res.rowLoss = weighRows(plan, f.take(pRow, n, rowOut), 1);
    if (plan.reduction === 'none') res.loss = sumOf(res.rowLoss);
  }
  if (wantElems) res.elementLoss = weighRows(plan, f.take(pElem, n * c, elemOut), c);
  if (grad) {
    res.gradPred = gradPred;
    res.gradTarget = gradTarget;
  }
  return res;
}
