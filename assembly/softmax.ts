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
    m = laneMax(m0);
    if (v128.any_true(nan)) m = NaN;
  }
  for (; j < bins; j++) m = max(m, load<f32>(p + (<usize>j << 2)));
  return m;
}

/**
 * rowMax of four rows at once (SIMD tier), lane i the maximum of row pi: the rows' loads go side by side, so that
 * rows picked out of a large array (cache and TLB misses) are fetched together instead of one after the other. Same
 * values as rowMax (a NaN anywhere in a row makes its maximum NaN; ±0 may come out either way, as from rowMax).
 */
// @ts-ignore: decorator
@inline export function rowMax4(p0: usize, p1: usize, p2: usize, p3: usize, cols: i32): v128 {
  let m0 = f32x4.splat(-Infinity), m1 = m0, m2 = m0, m3 = m0, nan = i32x4.splat(0);
  const bytes = <usize>cols << 2;
  let j: usize = 0;
  for (; j + 16 <= bytes; j += 16) {
    const a0 = v128.load(p0 + j), a1 = v128.load(p1 + j), a2 = v128.load(p2 + j), a3 = v128.load(p3 + j);
    m0 = f32x4.pmax(m0, a0); m1 = f32x4.pmax(m1, a1); m2 = f32x4.pmax(m2, a2); m3 = f32x4.pmax(m3, a3);
    nan = v128.or(nan, v128.or(v128.or(f32x4.ne(a0, a0), f32x4.ne(a1, a1)), v128.or(f32x4.ne(a2, a2), f32x4.ne(a3, a3))));
  }
  let v0 = laneMax(m0), v1 = laneMax(m1), v2 = laneMax(m2), v3 = laneMax(m3);
  for (; j < bytes; j += 4) {
    v0 = max(v0, load<f32>(p0 + j)); v1 = max(v1, load<f32>(p1 + j));
    v2 = max(v2, load<f32>(p2 + j)); v3 = max(v3, load<f32>(p3 + j));
  }
  // a NaN among the vector columns: each row again by rowMax, which tells the rows apart (rare)
  if (v128.any_true(nan)) { v0 = rowMax(p0, cols); v1 = rowMax(p1, cols); v2 = rowMax(p2, cols); v3 = rowMax(p3, cols); }
  return f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(v0), 1, v1), 2, v2), 3, v3);
}

// @ts-ignore: decorator
@inline function laneMax(m: v128): f32 {
  return max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
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
