// Integral: the expectation of a softmax distribution over bins 0 .. bins−1 (mmdetection's `Integral`,
// ultralytics' `DFL` module), and its vector–Jacobian product, in one pass:
//   ŷ = Σ_j j·p_j,  p = softmax(z)        ∂ŷ/∂z_j = p_j·(j − ŷ)
// One row = one box side. `y` (rows) receives ŷ when not 0; `gradX` (rows × bins) receives gy·∂ŷ/∂z when not 0,
// with `gradY` (rows) the upstream gradient. `scratch` (bins floats) holds the exponentials when gradX is 0.

import { rowMax, rowExpSum, rowIndexDot } from "./softmax";

export function integral(x: usize, y: usize, gradY: usize, gradX: usize, scratch: usize, rows: i32, bins: i32): void {
  for (let i = 0; i < rows; i++) {
    const p = x + (<usize>i * <usize>bins << 2);
    const e = gradX ? gradX + (<usize>i * <usize>bins << 2) : scratch;
    const m = rowMax(p, bins);
    const s = rowExpSum(p, bins, m, e);
    const inv: f32 = 1.0 / s;
    const mean = rowIndexDot(e, bins) * inv;
    if (y) store<f32>(y + (<usize>i << 2), mean);
    if (gradX) {
      const k = load<f32>(gradY + (<usize>i << 2)) * inv;
      for (let j = 0; j < bins; j++) {
        const q = e + (<usize>j << 2);
        store<f32>(q, k * load<f32>(q) * (<f32>j - mean));
      }
    }
  }
}
