// Distribution Focal Loss, fused forward and gradient. One row = the logits of one box side over `bins` bins
// (bins 0 .. bins−1), and a continuous target y between two bins l = ⌊y⌋ and r = l + 1:
//   L = wl·CE(z, l) + wr·CE(z, r),  CE(z, k) = logsumexp(z) − z_k
//   ∂L/∂z_j = (wl + wr)·softmax(z)_j − wl·[j = l] − wr·[j = r],   ∂L/∂y = z_l − z_r
// convention 0 (mmdetection): wl = r − y, wr = y − l; the caller guarantees 0 ≤ y < bins − 1.
// convention 1 (ultralytics DFLoss): y is first clamped to [0, bins − 1 − 0.01] (no gradient to y where clamped),
//   then wl = r − y, wr = 1 − wl.
// ABI as in qfl.ts.

import { logPositive1 } from "./math";
import { rowMax, rowExpSum } from "./softmax";

export function dfl(
  pred: usize, target: usize, coef: usize, rowLoss: usize, gradPred: usize, gradTarget: usize,
  rows: i32, bins: i32, convention: i32,
): f64 {
  let total: f64 = 0;
  const hi = <f32>(<f64>(bins - 1) - 0.01);
  for (let i = 0; i < rows; i++) {
    const p = pred + (<usize>i * <usize>bins << 2);
    const c = load<f32>(coef + (<usize>i << 2));
    let y = load<f32>(target + (<usize>i << 2));
    let clamped = false;
    if (convention == 1) {
      if (y < 0) { y = 0; clamped = true; } else if (y > hi) { y = hi; clamped = true; }
    }
    const l = <i32>y;
    const r = l + 1;
    const wl = <f32>r - y;
    const wr: f32 = convention == 1 ? <f32>1.0 - wl : y - <f32>l;
    const g = gradPred ? gradPred + (<usize>i * <usize>bins << 2) : 0;
    const m = rowMax(p, bins);
    const s = rowExpSum(p, bins, m, g);
    const lse = m + logPositive1(s);
    const zl = load<f32>(p + (<usize>l << 2));
    const zr = load<f32>(p + (<usize>r << 2));
    const loss = wl * (lse - zl) + wr * (lse - zr);
    if (g) {
      const scale: f32 = c * (wl + wr) / s;
      for (let j = 0; j < bins; j++) store<f32>(g + (<usize>j << 2), load<f32>(g + (<usize>j << 2)) * scale);
      store<f32>(g + (<usize>l << 2), load<f32>(g + (<usize>l << 2)) - c * wl);
      store<f32>(g + (<usize>r << 2), load<f32>(g + (<usize>r << 2)) - c * wr);
    }
    if (gradTarget) store<f32>(gradTarget + (<usize>i << 2), clamped ? 0 : c * (zl - zr));
    if (rowLoss) store<f32>(rowLoss + (<usize>i << 2), loss);
    total += <f64>c * <f64>loss;
  }
  return total;
}
