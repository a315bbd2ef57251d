// Integral: expectation of the softmax over bins 0 .. bins−1 per row (mmdetection `Integral`, ultralytics `DFL`
// module), and its vector–Jacobian product. One row per box side: mmdetection's bbox_pred (N, 4·(reg_max+1)) is
// N·4 rows of reg_max + 1 bins.
import { GflInputError } from '../errors.js';
import { kernelCall, type WasmRuntime, type Op } from '../wasm/runtime.js';
import { f32Array, plainObject, knownKeys, positiveInt, rowsOf, outArray } from '../validate.js';

export interface IntegralInput {
  /** Logits, R × bins row-major. */
  x: Float32Array;
}

export interface IntegralOptions {
  bins: number;
  /** Upstream gradient ∂objective/∂y (R values); when given, `gradX` is returned. */
  gradOutput?: Float32Array;
  out?: { y?: Float32Array; gradX?: Float32Array };
}

export interface IntegralResult {
  /** Σ_j j·softmax(x_row)_j for each row (R values). */
  y: Float32Array;
  /** gradOutput_r·softmax_j·(j − y_r). */
  gradX?: Float32Array;
}

export function* integral(rt: WasmRuntime, input: IntegralInput, options: IntegralOptions): Op<IntegralResult> {
  const inp = plainObject('input', input);
  const o = plainObject('options', options);
  knownKeys('options', o, ['bins', 'gradOutput', 'out']);
  if (o.bins === undefined) throw new GflInputError('options.bins', 'required: the number of bins');
  const bins = positiveInt('options.bins', o.bins, 2);
  const rows = rowsOf('input.x', inp.x, bins, `R × ${bins} bins`);
  const x = inp.x as Float32Array;
  const gy = o.gradOutput === undefined ? undefined : f32Array('options.gradOutput', o.gradOutput, rows);
  const out = plainObject('options.out', o.out);
  const yOut = outArray(out, 'y', rows);
  const gxOut = outArray(out, 'gradX', rows * bins);

  const f = rt.frame();
  const pX = f.input(x);
  const pGy = gy ? f.input(gy) : 0;
  // without gradX the exponentials go to a scratch row per row, so that blocks of rows can run anywhere
  const pY = f.floats(rows, true, yOut), pGx = f.floats(rows * bins, gy !== undefined, gxOut), pScratch = f.floats(rows * bins, gy === undefined);
  f.ready();
  yield kernelCall('integral', [pX, pY, pGy, pGx, pScratch, rows, bins], [4 * bins, 4, 4, 4 * bins, 4 * bins, 'rows', 0], rows, bins);
  const res: IntegralResult = { y: f.take(pY, rows, yOut) };
  if (gy) res.gradX = f.take(pGx, rows * bins, gxOut);
  return res;
}
