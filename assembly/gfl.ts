// The general form of Generalized Focal Loss from the paper (Li et al. 2020, eq. 7): a continuous label y between
// two values y_l < y_r, predicted by probabilities p_l, p_r of those two values:
//   ŷ = y_l·p_l + y_r·p_r,  d = y − ŷ
//   L = −|d|^β·((y_r − y)·log p_l + (y − y_l)·log p_r)
//   ∂L/∂p_l = β|d|^(β−1)·sign(d)·y_l·Q − |d|^β·(y_r − y)/p_l,  Q = (y_r − y)·log p_l + (y − y_l)·log p_r
//   ∂L/∂p_r = β|d|^(β−1)·sign(d)·y_r·Q − |d|^β·(y − y_l)/p_r
// QFL is the case y_l = 0, y_r = 1, p_r = σ, p_l = 1 − σ; DFL is β = 0 with p_l, p_r two softmax bins.
// Scalar in every build (it is not a training hot path). ABI as in qfl.ts.

import { log1 } from "./math";
import { powerMode, pow1, dpow1, sign1 } from "./power";

export function gflGeneral(
  probLeft: usize, probRight: usize, yLeft: usize, yRight: usize, y: usize, coef: usize, rowLoss: usize,
  gradLeft: usize, gradRight: usize, rows: i32, beta: f32,
): f64 {
  const mode = powerMode(beta);
  let total: f64 = 0;
  for (let i = 0; i < rows; i++) {
    const k = <usize>i << 2;
    const pl = load<f32>(probLeft + k), pr = load<f32>(probRight + k);
    const yl = load<f32>(yLeft + k), yr = load<f32>(yRight + k), yy = load<f32>(y + k);
    const c = load<f32>(coef + k);
    const d = yy - (yl * pl + yr * pr);
    const a = Mathf.abs(d);
    const wl = yr - yy, wr = yy - yl;
    const q = wl * log1(pl) + wr * log1(pr);
    const p = pow1(a, beta, mode);
    const loss = -p * q;
    if (rowLoss) store<f32>(rowLoss + k, loss);
    total += <f64>c * <f64>loss;
    const ds = dpow1(a, beta, mode) * sign1(d);
    if (gradLeft) store<f32>(gradLeft + k, c * (ds * yl * q - p * wl / pl));
    if (gradRight) store<f32>(gradRight + k, c * (ds * yr * q - p * wr / pr));
  }
  return total;
}
