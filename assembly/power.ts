// The modulating factor a^β of the focal family and its derivative β·a^(β−1), for a ≥ 0.
//
// β is a runtime value, but the kernels specialise on it: each kernel calls its row loop once per mode with the
// mode as a literal, so after inlining every branch below folds away. β = 0, 1 and 2 are multiplications or
// constants, any other integer β is repeated squaring, and only a non-integer β takes exp(β·log a).
// The conventions are torch's: 0^0 = 1, and pow's backward for β = 0 is exactly 0.

import { powInt1, powPos1, powInt4, powPos4 } from "./math";

export const MODE_ZERO: i32 = 0;
export const MODE_ONE: i32 = 1;
export const MODE_TWO: i32 = 2;
export const MODE_INT: i32 = 3;
export const MODE_REAL: i32 = 4;

/** The mode for a given β (β ≥ 0, finite: validated by the caller). */
export function powerMode(beta: f32): i32 {
  if (beta == 0) return MODE_ZERO;
  if (beta == 1) return MODE_ONE;
  if (beta == 2) return MODE_TWO;
  if (beta == Mathf.floor(beta) && beta <= 64) return MODE_INT;
  return MODE_REAL;
}

// @ts-ignore: decorator
@inline export function pow1(a: f32, beta: f32, mode: i32): f32 {
  if (mode == MODE_ZERO) return 1.0;
  if (mode == MODE_ONE) return a;
  if (mode == MODE_TWO) return a * a;
  if (mode == MODE_INT) return powInt1(a, <i32>beta);
  return powPos1(a, beta);
}

/** β·a^(β−1) */
// @ts-ignore: decorator
@inline export function dpow1(a: f32, beta: f32, mode: i32): f32 {
  if (mode == MODE_ZERO) return 0.0;
  if (mode == MODE_ONE) return 1.0;
  if (mode == MODE_TWO) return a + a;
  if (mode == MODE_INT) return beta * powInt1(a, <i32>beta - 1);
  return beta * powPos1(a, beta - 1.0);
}

// @ts-ignore: decorator
@inline export function pow4(a: v128, beta: f32, mode: i32): v128 {
  if (mode == MODE_ZERO) return f32x4.splat(1.0);
  if (mode == MODE_ONE) return a;
  if (mode == MODE_TWO) return f32x4.mul(a, a);
  if (mode == MODE_INT) return powInt4(a, <i32>beta);
  return powPos4(a, beta);
}

// @ts-ignore: decorator
@inline export function dpow4(a: v128, beta: f32, mode: i32): v128 {
  if (mode == MODE_ZERO) return f32x4.splat(0.0);
  if (mode == MODE_ONE) return f32x4.splat(1.0);
  if (mode == MODE_TWO) return f32x4.add(a, a);
  if (mode == MODE_INT) return f32x4.mul(f32x4.splat(beta), powInt4(a, <i32>beta - 1));
  return f32x4.mul(f32x4.splat(beta), powPos4(a, beta - 1.0));
}

/** sign(d) with sign(0) = 0 (torch's abs backward), as a scalar. */
// @ts-ignore: decorator
@inline export function sign1(d: f32): f32 {
  return d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0;
}

/**
 * v·sign(d) per lane with sign(0) = 0, as a product (not a mask), so that an infinite v at d = 0 gives NaN exactly
 * where torch's abs backward does (β < 1 at the kink).
 */
// @ts-ignore: decorator
@inline export function mulSign4(v: v128, d: v128): v128 {
  const zero = f32x4.splat(0);
  const sign = v128.or(v128.and(f32x4.splat(1.0), f32x4.gt(d, zero)), v128.and(f32x4.splat(-1.0), f32x4.lt(d, zero)));
  return f32x4.mul(v, sign);
}
