// Row softmax pieces shared by the distribution kernels (DFL, Integral): the row max and Σ exp(z − max),
// with the exponentials optionally kept in a scratch row for the gradient pass.

import { exp1, exp4, loadPartial4, storePartial4, laneMask4, hsum4 } from "./math";

/** max_j z_j over `bins` floats at p (NaN propagates). */
// @ts-ignore: decorator
@inline export function rowMax(p: usize, bins: i32): f32 {
  if (ASC_FEATURE_SIMD) {
    let m = f32x4.splat(-Infinity);
    for (let j = 0; j < bins; j += 4) m = f32x4.max(m, loadPartial4(p + (<usize>j << 2), min(4, bins - j), -Infinity));
    return max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
  }
  let m: f32 = -Infinity;
  for (let j = 0; j < bins; j++) m = max(m, load<f32>(p + (<usize>j << 2)));
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
