// Integral: the expectation of a softmax distribution over bins 0 .. bins−1 (mmdetection's `Integral`,
// ultralytics' `DFL` module), and its vector–Jacobian product, in one pass:
//   ŷ = Σ_j j·p_j,  p = softmax(z)        ∂ŷ/∂z_j = p_j·(j − ŷ)
// One row = one box side. `y` (rows) receives ŷ when not 0; `gradX` (rows × bins) receives gy·∂ŷ/∂z when not 0,
// with `gradY` (rows) the upstream gradient. `scratch` (bins floats) holds the exponentials when gradX is 0.
//
// The exponentials are float32 (vectorised); the sums, ŷ and j − ŷ are float64. A peaked distribution puts ŷ within
// a few ulp of a bin index, and in float32 the cancellation in j − ŷ would cost the gradient most of its digits.

import { rowMax, rowExpSum } from "./softmax";

export function integral(x: usize, y: usize, gradY: usize, gradX: usize, scratch: usize, rows: i32, bins: i32): void {
  for (let i = 0; i < rows; i++) {
    const p = x + (<usize>i * <usize>bins << 2);
    const e = gradX ? gradX + (<usize>i * <usize>bins << 2) : scratch;
    rowExpSum(p, bins, rowMax(p, bins), e);
    let s: f64 = 0, d: f64 = 0;
    for (let j = 0; j < bins; j++) {
      const v = <f64>load<f32>(e + (<usize>j << 2));
      s += v;
      d += <f64>j * v;
    }
    const mean = d / s;
    if (y) store<f32>(y + (<usize>i << 2), <f32>mean);
    if (gradX) {
      const k = <f64>load<f32>(gradY + (<usize>i << 2)) / s;
      for (let j = 0; j < bins; j++) {
        const q = e + (<usize>j << 2);
        store<f32>(q, <f32>(k * <f64>load<f32>(q) * (<f64>j - mean)));
      }
    }
  }
}
