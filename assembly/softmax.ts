// Row softmax pieces shared by the distribution kernels (DFL, Integral): the row max and Σ exp(z − max),
// with the exponentials optionally kept in a scratch row for the gradient pass.

import { exp1, exp4, loadPartial4, storePartial4, laneMask4, hsum4 } from "./math";

/**
 * max_j z_j over `bins` floats at p (NaN propagates; of two zeros either may come out, which no caller can tell
 * apart: they subtract the max or take its sigmoid). The SIMD tier uses pmax, one instruction on x86 where wasm's
 * NaN-propagating f32x4.max takes several, and tracks NaNs on the side; two accumulators halve the chain of maxima.
 */
// @ts-ignore: decorator
@inline export function rowMax(p: usize, bins: i32): f32 {
  let j = 0;
  let m: f32 = -Infinity;
  if (ASC_FEATURE_SIMD) {
    let m0 = f32x4.splat(-Infinity), m1 = f32x4.splat(-Infinity), nan = i32x4.splat(0);
    for (; j + 8 <= bins; j += 8) {
      const a = v128.load(p + (<usize>j << 2)), b = v128.load(p + (<usize>j << 2), 16);
      m0 = f32x4.pmax(m0, a); m1 = f32x4.pmax(m1, b);
      nan = v128.or(nan, v128.or(f32x4.ne(a, a), f32x4.ne(b, b)));
    }
    for (; j + 4 <= bins; j += 4) {
      const a = v128.load(p + (<usize>j << 2));
      m0 = f32x4.pmax(m0, a);
      nan = v128.or(nan, f32x4.ne(a, a));
    }
    m0 = f32x4.pmax(m0, m1);
    m = max(max(f32x4.extract_lane(m0, 0), f32x4.extract_lane(m0, 1)), max(f32x4.extract_lane(m0, 2), f32x4.extract_lane(m0, 3)));
    if (v128.any_true(nan)) m = NaN;
  }
  for (; j < bins; j++) m = max(m, load<f32>(p + (<usize>j << 2)));
  return m;
}

/** Σ_j exp(z_j − m); also writes each exp(z_j − m) to `keep` when `keep` is not 0. */
// @ts-ignore: decorator
@inline export function rowExpSum(p: usize, bins: i32, m: f32, keep: usize): f32 {
  if (ASC_FEATURE_SIMD) {
    let s = f32x4.splat(0);
    const mv = f32x4.splat(m);
    for (let j = 0; j < bins; j += 4) {
      const n = min(4, bins - j);
      let e = exp4(f32x4.sub(loadPartial4(p + (<usize>j << 2), n, 0), mv));
      if (n < 4) e = v128.and(e, laneMask4(n));
      if (keep) storePartial4(keep + (<usize>j << 2), e, n);
      s = f32x4.add(s, e);
    }
    return hsum4(s);
  }
  let s: f32 = 0;
  for (let j = 0; j < bins; j++) {
    const e = exp1(load<f32>(p + (<usize>j << 2)) - m);
    if (keep) store<f32>(keep + (<usize>j << 2), e);
    s += e;
  }
  return s;
}
