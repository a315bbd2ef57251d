// Box losses on aligned xyxy pairs (K × 4 row-major):
//   GIoU, mmdetection v3.1 `GIoULoss` (eps 1e-6 as a floor), or the paper's official code (`convention: 'gfocal'`:
//   +1 on every width and height, eps added);
//   CIoU, ultralytics 8.3 `bbox_iou(CIoU=True)` (eps 1e-7; α held constant in backward); loss = 1 − CIoU.
import { GflInputError } from '../errors.js';
import { kernelCall, type WasmRuntime, type Op, type KernelCall } from '../wasm/runtime.js';
import { f32Array, finiteNumber, plainObject, knownKeys, rowsOf, bool, outArray, allFinite } from '../validate.js';
import { planReduction, fillCoef, weighRows, sumOf, REDUCE_KEYS, type ReduceOptions } from './reduce.js';

export interface BoxPairInput {
  /** Predicted boxes, K × 4 (x1, y1, x2, y2). */
  pred: Float32Array;
  /** Target boxes, K × 4. */
  target: Float32Array;
}

export interface BoxLossOptions extends ReduceOptions {
  eps?: number;
  grad?: boolean;
  returnRowLoss?: boolean;
  /** Also return the IoU of each pair. */
  returnIou?: boolean;
  out?: { gradPred?: Float32Array; gradTarget?: Float32Array; rowLoss?: Float32Array };
}

export interface GiouOptions extends BoxLossOptions {
  /** 'mmdet' (default) or 'gfocal' (the paper's official code: +1 pixel convention, eps added). */
  convention?: 'mmdet' | 'gfocal';
  /** Also return GIoU itself. */
  returnGiou?: boolean;
}

export interface CiouOptions extends BoxLossOptions {
  /** Also return CIoU itself and ultralytics' GIoU. */
  returnCiou?: boolean;
  returnGiou?: boolean;
}

export interface BoxLossResult {
  loss: number;
  rowLoss?: Float32Array;
  /** mmdet: overlap/max(union, eps), as bbox_overlaps(mode='iou'); gfocal: its IoU target (no eps); CIoU: inter/union. */
  iou?: Float32Array;
  giou?: Float32Array;
  ciou?: Float32Array;
  gradPred?: Float32Array;
  gradTarget?: Float32Array;
}

const BASE_KEYS = [...REDUCE_KEYS, 'eps', 'grad', 'returnRowLoss', 'returnIou', 'returnGiou', 'out'];

function boxPairs(inp: Record<string, unknown>): { k: number; pred: Float32Array; target: Float32Array } {
  const k = rowsOf('input.pred', inp.pred, 4, 'K × 4 boxes (x1, y1, x2, y2)');
  const pred = inp.pred as Float32Array;
  const target = f32Array('input.target', inp.target, k * 4);
  allFinite('input.pred', pred);
  allFinite('input.target', target);
  return { k, pred, target };
}

export function* giouLoss(rt: WasmRuntime, input: BoxPairInput, options?: GiouOptions): Op<BoxLossResult> {
  const inp = plainObject('input', input);
  const o = plainObject('options', options);
  knownKeys('options', o, [...BASE_KEYS, 'convention']);
  const convention = o.convention === undefined ? 'mmdet' : o.convention;
  if (convention !== 'mmdet' && convention !== 'gfocal') {
    throw new GflInputError('options.convention', `expected 'mmdet' or 'gfocal', got ${String(convention)}`);
  }
  const eps = o.eps === undefined ? 1e-6 : finiteNumber('options.eps', o.eps, { min: 0, minExclusive: true });
  return yield* runBoxes(rt, inp, o, (p, k) => kernelCall('giou',
    [p.pred, p.target, p.coef, p.row, p.iou, p.giou, p.gradPred, p.gradTarget, p.scratch, k, eps, convention === 'gfocal' ? 1 : 0],
    [16, 16, 4, 4, 4, 4, 16, 16, 48, 'rows', 0, 0], k, 4));
}

export function* ciouLoss(rt: WasmRuntime, input: BoxPairInput, options?: CiouOptions): Op<BoxLossResult> {
  const inp = plainObject('input', input);
  const o = plainObject('options', options);
  knownKeys('options', o, [...BASE_KEYS, 'returnCiou']);
  const eps = o.eps === undefined ? 1e-7 : finiteNumber('options.eps', o.eps, { min: 0, minExclusive: true });
  return yield* runBoxes(rt, inp, o, (p, k) => kernelCall('ciou',
    [p.pred, p.target, p.coef, p.row, p.ciou, p.iou, p.giou, p.gradPred, p.gradTarget, p.scratch, k, eps],
    [16, 16, 4, 4, 4, 4, 4, 16, 16, 48, 'rows', 0], k, 4));
}

interface BoxPtrs { pred: number; target: number; coef: number; row: number; iou: number; giou: number; ciou: number; gradPred: number; gradTarget: number; scratch: number }

function* runBoxes(
  rt: WasmRuntime, inp: Record<string, unknown>, o: Record<string, unknown>,
  kernel: (p: BoxPtrs, k: number) => KernelCall,
): Op<BoxLossResult> {
  const { k, pred, target } = boxPairs(inp);
  const grad = o.grad === undefined ? true : bool('options.grad', o.grad);
  const out = plainObject('options.out', o.out);
  const plan = planReduction(o, k, k, k);
  const wantRows = plan.reduction === 'none' || o.returnRowLoss === true;
  const flags = { iou: o.returnIou === true, giou: o.returnGiou === true, ciou: o.returnCiou === true };
  const gradPredOut = outArray(out, 'gradPred', k * 4);
  const gradTargetOut = outArray(out, 'gradTarget', k * 4);
  const rowOut = outArray(out, 'rowLoss', k);

  const f = rt.frame();
  const p: BoxPtrs = {
    pred: f.input(pred), target: f.input(target), coef: f.floats(k), row: f.floats(k, wantRows, rowOut),
    iou: f.floats(k, flags.iou), giou: f.floats(k, flags.giou), ciou: f.floats(k, flags.ciou),
    gradPred: f.floats(k * 4, grad, gradPredOut), gradTarget: f.floats(k * 4, grad, gradTargetOut),
    scratch: f.floats(k * 12), // 48 bytes per pair for the per-box results (see assembly/giou.ts)
  };
  f.ready();
  fillCoef(plan, f.view(p.coef, k), true);
  const res: BoxLossResult = { loss: yield kernel(p, k) };
  if (wantRows) {
    res.rowLoss = weighRows(plan, f.take(p.row, k, rowOut), 1);
    if (plan.reduction === 'none') res.loss = sumOf(res.rowLoss);
  }
  if (flags.iou) res.iou = f.take(p.iou, k);
  if (flags.giou) res.giou = f.take(p.giou, k);
  if (flags.ciou) res.ciou = f.take(p.ciou, k);
  if (grad) {
    res.gradPred = f.take(p.gradPred, k * 4, gradPredOut);
    res.gradTarget = f.take(p.gradTarget, k * 4, gradTargetOut);
  }
  return res;
}
