// Distribution Focal Loss: mmdetection v3.1 `distribution_focal_loss` and ultralytics 8.3 `DFLoss`.
//
// Bins: this package counts bins. mmdetection's `reg_max` = bins − 1 (reg_max 16 → 17 bins, targets in [0, 16)),
// ultralytics' `reg_max` = bins (reg_max 16 → 16 bins 0..15, targets clamped to [0, 14.99]).
import { GflInputError } from '../errors.js';
import { kernelCall, type WasmRuntime, type Op } from '../wasm/runtime.js';
import { f32Array, plainObject, knownKeys, positiveInt, rowsOf, bool, outArray, allFinite } from '../validate.js';
import { planReduction, fillCoef, weighRows, sumOf, REDUCE_KEYS, type ReduceOptions } from './reduce.js';

export interface DflInput {
  /** Logits over the bins, M × bins row-major (one row per box side). */
  pred: Float32Array;
  /** Continuous target of each row, in bin units. */
  target: Float32Array;
}

export interface DflOptions extends ReduceOptions {
  /** Number of bins (≥ 2). */
  bins: number;
  /**
   * 'mmdet' (default): target must lie in [0, bins − 1); wl = r − y, wr = y − l.
   * 'ultralytics': target is clamped to [0, bins − 1.01] first (no gradient where clamped); wr = 1 − wl.
   * ultralytics' DFLoss then averages the four sides of a box: pass lossWeight or gradOutput accordingly.
   */
  convention?: 'mmdet' | 'ultralytics';
  grad?: boolean;
  returnRowLoss?: boolean;
  out?: { gradPred?: Float32Array; gradTarget?: Float32Array; rowLoss?: Float32Array };
}

export interface DflResult {
  loss: number;
  rowLoss?: Float32Array;
  gradPred?: Float32Array;
  /** ∂loss/∂target (z_l − z_r); unused in training, where targets are constants. */
  gradTarget?: Float32Array;
}

const KEYS = [...REDUCE_KEYS, 'bins', 'convention', 'grad', 'returnRowLoss', 'out'];

/**
 * mmdetection's DFL targets lie in [0, bins − 1). A plain function: V8 runs loops inside a generator slower (1.3× for
 * a plain loop).
 */
function checkTargets(target: Float32Array, bins: number): void {
  for (let i = 0; i < target.length; i++) {
    const y = target[i];
    if (!(y >= 0 && y < bins - 1)) {
      throw new GflInputError('input.target', `expected values in [0, ${bins - 1}) for ${bins} bins, got ${y} at index ${i}`);
    }
  }
}

export function* distributionFocalLoss(rt: WasmRuntime, input: DflInput, options: DflOptions): Op<DflResult> {
  const inp = plainObject('input', input);
  const o = plainObject('options', options);
  knownKeys('options', o, KEYS);
  if (o.bins === undefined) throw new GflInputError('options.bins', 'required: the number of bins (mmdetection reg_max + 1, ultralytics reg_max)');
  const bins = positiveInt('options.bins', o.bins, 2);
  const convention = o.convention === undefined ? 'mmdet' : o.convention;
  if (convention !== 'mmdet' && convention !== 'ultralytics') {
    throw new GflInputError('options.convention', `expected 'mmdet' or 'ultralytics', got ${String(convention)}`);
  }
  const grad = o.grad === undefined ? true : bool('options.grad', o.grad);
  const out = plainObject('options.out', o.out);
  const m = rowsOf('input.pred', inp.pred, bins, `M × ${bins} bins`);
  const pred = inp.pred as Float32Array;
  const target = f32Array('input.target', inp.target, m);
  if (convention === 'mmdet') checkTargets(target, bins);
  else allFinite('input.target', target);
  const plan = planReduction(o, m, m, m);
  const wantRows = plan.reduction === 'none' || o.returnRowLoss === true;
  const gradOut = outArray(out, 'gradPred', m * bins);
  const gradTargetOut = outArray(out, 'gradTarget', m);
  const rowOut = outArray(out, 'rowLoss', m);

  const f = rt.frame();
  const pPred = f.input(pred), pTarget = f.input(target);
  const pCoef = f.floats(m);
  const pRow = f.floats(m, wantRows, rowOut), pGrad = f.floats(m * bins, grad, gradOut), pGradT = f.floats(m, grad, gradTargetOut);
  f.ready();
  fillCoef(plan, f.view(pCoef, m), true);
  const total = yield kernelCall('dfl', [pPred, pTarget, pCoef, pRow, pGrad, pGradT, m, bins, convention === 'ultralytics' ? 1 : 0],
    [4 * bins, 4, 4, 4, 4 * bins, 4, 'rows', 0, 0], m, bins);
  const res: DflResult = { loss: total };
  if (wantRows) {
    res.rowLoss = weighRows(plan, f.take(pRow, m, rowOut), 1);
    if (plan.reduction === 'none') res.loss = sumOf(res.rowLoss);
  }
  if (grad) {
    res.gradPred = f.take(pGrad, m * bins, gradOut);
    res.gradTarget = f.take(pGradT, m, gradTargetOut);
  }
  return res;
}
