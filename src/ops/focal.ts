// Sigmoid focal loss: mmdetection v3.1 `FocalLoss(use_sigmoid=True)` (its CPU path, `py_sigmoid_focal_loss`).
// The loss is per element (N × C); 'mean' divides by N·C; `weight` is per row.
import { GflInputError } from '../errors.js';
import { kernelCall, type WasmRuntime, type Op } from '../wasm/runtime.js';
import { f32Array, i32Array, finiteNumber, plainObject, knownKeys, positiveInt, rowsOf, bool, outArray } from '../validate.js';
import { planReduction, fillCoef, weighRows, sumOf, REDUCE_KEYS, type ReduceOptions } from './reduce.js';

export interface FocalInput {
  /** Logits, N × C row-major. */
  pred: Float32Array;
  /** Class of each row; a value outside [0, C) (background C) makes every class of the row a negative. */
  label: Int32Array;
}

export interface FocalOptions extends ReduceOptions {
  /** Default 0.25. */
  alpha?: number;
  /** Default 2. */
  gamma?: number;
  numClasses?: number;
  grad?: boolean;
  /** Also return the per-element losses (always returned for reduction 'none'). */
  returnElementLoss?: boolean;
  out?: { gradPred?: Float32Array; elementLoss?: Float32Array };
}

export interface FocalResult {
  /** The reduced loss; for reduction 'none', the sum of `elementLoss`. */
  loss: number;
  /** Per-element losses (lossWeight·weight·L), N × C. */
  elementLoss?: Float32Array;
  gradPred?: Float32Array;
}

const KEYS = [...REDUCE_KEYS, 'alpha', 'gamma', 'numClasses', 'grad', 'returnElementLoss', 'out'];

export function* sigmoidFocalLoss(rt: WasmRuntime, input: FocalInput, options?: FocalOptions): Op<FocalResult> {
  const inp = plainObject('input', input);
  const o = plainObject('options', options);
  knownKeys('options', o, KEYS);
  const alpha = o.alpha === undefined ? 0.25 : finiteNumber('options.alpha', o.alpha, { min: 0, max: 1 });
  const gamma = o.gamma === undefined ? 2 : finiteNumber('options.gamma', o.gamma, { min: 0 });
  const grad = o.grad === undefined ? true : bool('options.grad', o.grad);
  const out = plainObject('options.out', o.out);
  if (!(inp.label instanceof Int32Array)) i32Array('input.label', inp.label, 0);
  const label = inp.label as Int32Array;
  const n = label.length;
  let c: number;
  if (o.numClasses !== undefined) c = positiveInt('options.numClasses', o.numClasses);
  else {
    if (n === 0) throw new GflInputError('options.numClasses', 'required when there are no rows');
    c = rowsOf('input.pred', inp.pred, n, `N × C with N = ${n} rows`);
    if (c < 1) throw new GflInputError('input.pred', 'expected at least one class');
  }
  const pred = f32Array('input.pred', inp.pred, n * c);
  const plan = planReduction(o, n, n * c, n * c);
  const wantElems = plan.reduction === 'none' || o.returnElementLoss === true;
  const gradOut = outArray(out, 'gradPred', n * c);
  const elemOut = outArray(out, 'elementLoss', n * c);

  const f = rt.frame();
  const pPred = f.input(pred), pLabel = f.input(label);
  const pCoef = f.floats(n);
  const pElemCoef = plan.gradOutput ? f.input(plan.gradOutput) : 0;
  const pElem = f.floats(n * c, wantElems, elemOut), pGrad = f.floats(n * c, grad, gradOut);
  f.ready();
  fillCoef(plan, f.view(pCoef, n), false);
  const total = yield kernelCall('sigmoidFocal', [pPred, pLabel, pCoef, pElemCoef, 0, pElem, pGrad, n, c, alpha, gamma],
    [4 * c, 4, 4, 4 * c, 4, 4 * c, 4 * c, 'rows', 0, 0, 0], n, c);
  const res: FocalResult = { loss: total };
  if (wantElems) {
    res.elementLoss = weighRows(plan, f.take(pElem, n * c, elemOut), c);
    if (plan.reduction === 'none') res.loss = sumOf(res.elementLoss);
  }
  if (grad) res.gradPred = f.take(pGrad, n * c, gradOut);
  return res;
}
