// Test-only entry (build/math-probe.wasm, built by scripts/build-wasm.mjs with SIMD enabled, never embedded in
// src/generated/wasm.ts): array-wide wrappers around the elementary functions of ./math, so that
// test/math.test.ts can compare both tiers with float64 references over millions of points per call.
//
// Every wrapper reads `n` floats at byte offset `x` and writes `n` floats at byte offset `y`. With `vector` = 1
// (and SIMD compiled in) it runs the f32x4 tier in chunks of 4, the tail through loadPartial4/storePartial4 as
// the kernels do; otherwise the scalar tier, one element at a time.

import {
  exp1, exp4, expNonPositive4, expNonPositiveShort4, log1, log4, log1pSmall1, log1pSmall4, log1pAtanh4, log1pFar4, softplus1, softplus4, sigmoid1, sigmoid4, atan1,
  powInt1, powInt4, powPos1, powPos4, loadPartial4, storePartial4,
} from "./math";

/** First byte above the module's own static area. */
export function heapBase(): usize {
  return __heap_base;
}

/** 1 when the f32x4 tier is compiled in. */
export function hasSimd(): i32 {
  return ASC_FEATURE_SIMD ? 1 : 0;
}

export function expArray(x: usize, y: usize, n: i32, vector: i32): void {
  if (ASC_FEATURE_SIMD) {
    if (vector) {
      for (let i = 0; i < n; i += 4) {
        const k = min(n - i, 4), o = <usize>i << 2;
        storePartial4(y + o, exp4(loadPartial4(x + o, k, 0)), k);
      }
      return;
    }
  }
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, exp1(load<f32>(x + o)));
  }
}

/** expNonPositive4 (f32x4 only; `vector` is ignored): e^x for x ≤ 0, floored at 2^-126. */
export function expNonPositiveArray(x: usize, y: usize, n: i32, vector: i32): void {
  if (ASC_FEATURE_SIMD) {
    for (let i = 0; i < n; i += 4) {
      const k = min(n - i, 4), o = <usize>i << 2;
      storePartial4(y + o, expNonPositive4(loadPartial4(x + o, k, 0)), k);
    }
  }
}

/** expNonPositiveShort4 (f32x4 only; `vector` is ignored): expNonPositive4 with the degree-3 polynomial. */
export function expNonPositiveShortArray(x: usize, y: usize, n: i32, vector: i32): void {
  if (ASC_FEATURE_SIMD) {
    for (let i = 0; i < n; i += 4) {
      const k = min(n - i, 4), o = <usize>i << 2;
      storePartial4(y + o, expNonPositiveShort4(loadPartial4(x + o, k, 0)), k);
    }
  }
}

/**
 * log1pFar4 (f32x4 only; `vector` is ignored): log1p(e) = e·P(e) for e ∈ [0, e^−1.5], the QFL far-negative softplus.
 */
export function log1pFarArray(x: usize, y: usize, n: i32, vector: i32): void {
  if (ASC_FEATURE_SIMD) {
    for (let i = 0; i < n; i += 4) {
      const k = min(n - i, 4), o = <usize>i << 2;
      storePartial4(y + o, log1pFar4(loadPartial4(x + o, k, 0)), k);
    }
  }
}

export function logArray(x: usize, y: usize, n: i32, vector: i32): void {
  if (ASC_FEATURE_SIMD) {
    if (vector) {
      for (let i = 0; i < n; i += 4) {
        const k = min(n - i, 4), o = <usize>i << 2;
        storePartial4(y + o, log4(loadPartial4(x + o, k, 1)), k);
      }
      return;
    }
  }
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, log1(load<f32>(x + o)));
  }
}

/** log(1 + x) for x ∈ [0, 1] (the only domain the kernels use). */
export function log1pSmallArray(x: usize, y: usize, n: i32, vector: i32): void {
  if (ASC_FEATURE_SIMD) {
    if (vector) {
      for (let i = 0; i < n; i += 4) {
        const k = min(n - i, 4), o = <usize>i << 2;
        storePartial4(y + o, log1pSmall4(loadPartial4(x + o, k, 0)), k);
      }
      return;
    }
  }
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, log1pSmall1(load<f32>(x + o)));
  }
}

/** log1pAtanh4 (f32x4 only; `vector` is ignored): log(1 + x) for x ∈ [0, 1] as 2·atanh(x/(2 + x)). */
export function log1pAtanhArray(x: usize, y: usize, n: i32, vector: i32): void {
  if (ASC_FEATURE_SIMD) {
    for (let i = 0; i < n; i += 4) {
      const k = min(n - i, 4), o = <usize>i << 2;
      storePartial4(y + o, log1pAtanh4(loadPartial4(x + o, k, 0)), k);
    }
  }
}

export function softplusArray(x: usize, y: usize, n: i32, vector: i32): void {
  if (ASC_FEATURE_SIMD) {
    if (vector) {
      for (let i = 0; i < n; i += 4) {
        const k = min(n - i, 4), o = <usize>i << 2;
        storePartial4(y + o, softplus4(loadPartial4(x + o, k, 0)), k);
      }
      return;
    }
  }
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, softplus1(load<f32>(x + o)));
  }
}

export function sigmoidArray(x: usize, y: usize, n: i32, vector: i32): void {
  if (ASC_FEATURE_SIMD) {
    if (vector) {
      for (let i = 0; i < n; i += 4) {
        const k = min(n - i, 4), o = <usize>i << 2;
        storePartial4(y + o, sigmoid4(loadPartial4(x + o, k, 0)), k);
      }
      return;
    }
  }
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, sigmoid1(load<f32>(x + o)));
  }
}

/** atan has only the scalar tier; `vector` is ignored. */
export function atanArray(x: usize, y: usize, n: i32, vector: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, atan1(load<f32>(x + o)));
  }
}

/** x^p for x ≥ 0 and a float exponent p. */
export function powPosArray(x: usize, y: usize, n: i32, p: f32, vector: i32): void {
  if (ASC_FEATURE_SIMD) {
    if (vector) {
      for (let i = 0; i < n; i += 4) {
        const k = min(n - i, 4), o = <usize>i << 2;
        storePartial4(y + o, powPos4(loadPartial4(x + o, k, 1), p), k);
      }
      return;
    }
  }
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, powPos1(load<f32>(x + o), p));
  }
}

/** x^m for x ≥ 0 and a small non-negative integer m. */
export function powIntArray(x: usize, y: usize, n: i32, m: i32, vector: i32): void {
  if (ASC_FEATURE_SIMD) {
    if (vector) {
      for (let i = 0; i < n; i += 4) {
        const k = min(n - i, 4), o = <usize>i << 2;
        storePartial4(y + o, powInt4(loadPartial4(x + o, k, 1), m), k);
      }
      return;
    }
  }
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, powInt1(load<f32>(x + o), m));
  }
}
