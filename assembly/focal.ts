// Sigmoid focal loss (mmdetection v3.1 `py_sigmoid_focal_loss`), fused forward and gradient.
//
// With t = 1 for the labelled class and 0 elsewhere, pt = (1−σ)t + σ(1−t) and a = αt + (1−α)(1−t):
//   L = a·BCE(x, t)·pt^γ          ∂L/∂x = a·[(σ − t)·pt^γ + BCE·γ·pt^(γ−1)·∂pt/∂x],  ∂pt/∂x = (1 − 2t)·σ(1−σ)
// The focal weight is not detached, as upstream. Labels outside [0, cols) make a row of negatives.
// ABI as in qfl.ts, plus `elemCoef` (rows × cols, or 0): an elementwise factor on top of the row factor, which is
// how an elementwise upstream gradient (reduction 'none' keeps the (N, C) shape here) is applied.

import { exp1, log1pSmall1, exp4, negAbs4, log1pSmall4, SIGMOID_ZERO_BELOW, loadPartial4, storePartial4, laneMask4, hsum4 } from "./math";
import { powerMode, pow1, dpow1, pow4, dpow4, MODE_TWO } from "./power";

// @ts-ignore: decorator
@inline function focalRows(
  pred: usize, label: usize, coef: usize, elemCoef: usize, rowLoss: usize, elemLoss: usize, gradPred: usize,
  rows: i32, cols: i32, alpha: f32, gamma: f32, mode: i32,
): f64 {
  let total: f64 = 0;
  for (let i = 0; i < rows; i++) {
    const rowOff = <usize>i * <usize>cols << 2;
    const c = load<f32>(coef + (<usize>i << 2));
    const t = load<i32>(label + (<usize>i << 2));
    let rowSum: f32 = 0;
    let rowWeighted: f32 = 0;
    if (ASC_FEATURE_SIMD) {
      let acc = f32x4.splat(0);
      let accW = f32x4.splat(0);
      const zero = f32x4.splat(0);
      const one = f32x4.splat(1.0);
      for (let j = 0; j < cols; j += 4) {
        const n = min(4, cols - j);
        const off = rowOff + (<usize>j << 2);
        const x = loadPartial4(pred + off, n, 0);
        const pos = i32x4.eq(i32x4(0, 1, 2, 3), i32x4.splat(t - j));
        const tv = v128.and(one, pos);
        const e = exp4(negAbs4(x));
        const r = f32x4.div(one, f32x4.add(one, e));
        const er = f32x4.mul(e, r);
        const nonneg = f32x4.ge(x, zero);
        const sig = v128.andnot(v128.bitselect(r, er, nonneg), f32x4.lt(x, f32x4.splat(SIGMOID_ZERO_BELOW)));
        const oms = v128.bitselect(er, r, nonneg);
        const sp = f32x4.add(f32x4.pmax(x, zero), log1pSmall4(e));
        const bce = f32x4.sub(sp, f32x4.mul(x, tv));
        const pt = v128.bitselect(oms, sig, pos);
        const a = v128.bitselect(f32x4.splat(alpha), f32x4.splat(1.0 - alpha), pos);
        const p = pow4(pt, gamma, mode);
        const ss = f32x4.mul(sig, oms);
        const dpt = v128.bitselect(f32x4.neg(ss), ss, pos);
        let loss = f32x4.mul(a, f32x4.mul(bce, p));
        if (n < 4) loss = v128.and(loss, laneMask4(n));
        const ec = elemCoef ? loadPartial4(elemCoef + off, n, 0) : one;
        if (gradPred) {
          const g = f32x4.mul(a, f32x4.add(f32x4.mul(f32x4.sub(sig, tv), p), f32x4.mul(f32x4.mul(bce, dpow4(pt, gamma, mode)), dpt)));
          storePartial4(gradPred + off, f32x4.mul(f32x4.mul(f32x4.splat(c), ec), g), n);
        }
        if (elemLoss) storePartial4(elemLoss + off, loss, n);
        acc = f32x4.add(acc, loss);
        accW = f32x4.add(accW, f32x4.mul(loss, ec));
      }
      rowSum = hsum4(acc);
      rowWeighted = hsum4(accW);
    } else {
      for (let j = 0; j < cols; j++) {
        const off = rowOff + (<usize>j << 2);
        const x = load<f32>(pred + off);
        const isPos = j == t;
        const tt: f32 = isPos ? 1.0 : 0.0;
        const e = exp1(-Mathf.abs(x));
        const r: f32 = 1.0 / (1.0 + e);
        let sig = x >= 0 ? r : e * r;
        const oms = x >= 0 ? e * r : r;
        if (x < SIGMOID_ZERO_BELOW) sig = 0;
        const sp = (x > 0 ? x : 0) + log1pSmall1(e);
        const bce = sp - x * tt;
        const pt = isPos ? oms : sig;
        const a = isPos ? alpha : 1.0 - alpha;
        const p = pow1(pt, gamma, mode);
        const dpt = isPos ? -(sig * oms) : sig * oms;
        const loss = a * (bce * p);
        const ec: f32 = elemCoef ? load<f32>(elemCoef + off) : 1.0;
        if (gradPred) store<f32>(gradPred + off, c * ec * (a * ((sig - tt) * p + bce * dpow1(pt, gamma, mode) * dpt)));
        if (elemLoss) store<f32>(elemLoss + off, loss);
        rowSum += loss;
        rowWeighted += loss * ec;
      }
    }
    if (rowLoss) store<f32>(rowLoss + (<usize>i << 2), rowSum);
    total += <f64>c * <f64>rowWeighted;
  }
  return total;
}

/** Sigmoid focal loss; returns Σ_i coef_i·Σ_j elemCoef_ij·L_ij. */
export function sigmoidFocal(
  pred: usize, label: usize, coef: usize, elemCoef: usize, rowLoss: usize, elemLoss: usize, gradPred: usize,
  rows: i32, cols: i32, alpha: f32, gamma: f32,
): f64 {
  const mode = powerMode(gamma);
  if (mode == MODE_TWO) return focalRows(pred, label, coef, elemCoef, rowLoss, elemLoss, gradPred, rows, cols, alpha, gamma, MODE_TWO);
  return focalRows(pred, label, coef, elemCoef, rowLoss, elemLoss, gradPred, rows, cols, alpha, gamma, mode);
}
