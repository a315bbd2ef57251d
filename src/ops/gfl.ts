// The general form of Generalized Focal Loss (the paper's eq. 7) for a continuous label y between two values
// y_l < y_r predicted with probabilities p_l, p_r: L = −|y − (y_l p_l + y_r p_r)|^β·((y_r − y)·log p_l + (y − y_l)·log p_r).
// QFL and DFL are its special cases; this function exposes the form itself, for research and for checking both.
import { GflInputError } from '../errors.js';
import { kernelCall, type WasmRuntime, type Op } from '../wasm/runtime.js';
import { f32Array, finiteNumber, plainObject, knownKeys, bool, outArray, allInRange } from '../validate.js';
import { planReduction, fillCoef, weighRows, sumOf, REDUCE_KEYS, type ReduceOptions } from './reduce.js';

export interface GflGeneralInput {
  /** p_l, probability assigned to y_l, in [0, 1]. */
  probLeft: Float32Array;
  /** p_r, probability assigned to y_r, in [0, 1]. */
  probRight: Float32Array;
  yLeft: Float32Array;
  yRight: Float32Array;
  /** The continuous label y, with y_l ≤ y ≤ y_r. */
  target: Float32Array;
}

export interface GflGeneralOptions extends ReduceOptions {
  /** Default 2. */
  beta?: number;
  grad?: boolean;
  returnRowLoss?: boolean;
  out?: { gradProbLeft?: Float32Array; gradProbRight?: Float32Array; rowLoss?: Float32Array };
}

export interface GflGeneralResult {
  loss: number;
  rowLoss?: Float32Array;
  gradProbLeft?: Float32Array;
  gradProbRight?: Float32Array;
}

export function* generalizedFocalLoss(rt: WasmRuntime, input: GflGeneralInput, options?: GflGeneralOptions): Op<GflGeneralResult> {
  const inp = plainObject('input', input);
  const o = plainObject('options', options);
  knownKeys('options', o, [...REDUCE_KEYS, 'beta', 'grad', 'returnRowLoss', 'out']);
  const beta = o.beta === undefined ? 2 : finiteNumber('options.beta', o.beta, { min: 0 });
  const grad = o.grad === undefined ? true : bool('options.grad', o.grad);
  const out = plainObject('options.out', o.out);
  if (!(inp.probLeft instanceof Float32Array)) f32Array('input.probLeft', inp.probLeft, 0);
  const n = (inp.probLeft as Float32Array).length;
  const pl = inp.probLeft as Float32Array;
  const pr = f32Array('input.probRight', inp.probRight, n);
  const yl = f32Array('input.yLeft', inp.yLeft, n);
  const yr = f32Array('input.yRight', inp.yRight, n);
  const y = f32Array('input.target', inp.target, n);
  allInRange('input.probLeft', pl, 0, 1, false);
  allInRange('input.probRight', pr, 0, 1, false);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(yl[i]) || !Number.isFinite(yr[i]) || !(yl[i] < yr[i])) {
      throw new GflInputError('input.yRight', `expected finite yLeft < yRight, got ${yl[i]} and ${yr[i]} at index ${i}`);
    }
    if (!(y[i] >= yl[i] && y[i] <= yr[i])) {
      throw new GflInputError('input.target', `expected yLeft ≤ target ≤ yRight, got ${y[i]} outside [${yl[i]}, ${yr[i]}] at index ${i}`);
    }
  }
  const plan = planReduction(o, n, n, n);
  const wantRows = plan.reduction === 'none' || o.returnRowLoss === true;
  const glOut = outArray(out, 'gradProbLeft', n), grOut = outArray(out, 'gradProbRight', n), rowOut = outArray(out, 'rowLoss', n);
  const f = rt.frame();
  const pPl = f.input(pl), pPr = f.input(pr), pYl = f.input(yl), pYr = f.input(yr), pY = f.input(y);
  const pCoef = f.floats(n), pRow = f.floats(n, wantRows, rowOut), pGl = f.floats(n, grad, glOut), pGr = f.floats(n, grad, grOut);
  f.ready();
  fillCoef(plan, f.view(pCoef, n), true);
  const loss = yield kernelCall('gflGeneral', [pPl, pPr, pYl, pYr, pY, pCoef, pRow, pGl, pGr, n, beta], [4, 4, 4, 4, 4, 4, 4, 4, 4, 'rows', 0], n, 1);
  const res: GflGeneralResult = { loss };
  if (wantRows) {
    res.rowLoss = weighRows(plan, f.take(pRow, n, rowOut), 1);
    if (plan.reduction === 'none') res.loss = sumOf(res.rowLoss);
  }
  if (grad) {
    res.gradProbLeft = f.take(pGl, n, glOut);
    res.gradProbRight = f.take(pGr, n, grOut);
  }
  return res;
}
