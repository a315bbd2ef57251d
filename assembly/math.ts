// Elementary functions in two tiers that compute the same formulas: scalar f32 (used by the scalar
// build and by code that works one element at a time) and f32x4 (used when the build enables SIMD).
//
// Nothing here touches memory or keeps state, and no lookup tables are used: the library functions of
// AssemblyScript (`Mathf.exp`, `Mathf.log`) bring tables that become data segments, and the threads build
// must have none, because every instance re-applies its data segments onto the shared memory.
//
// Error bounds, both tiers, against float64 rounded to float32. The maxima are from an exhaustive scan of
// every float32 input in each domain; test/math.test.ts checks them on sweeps of the whole range, subnormals,
// ±Inf and every NaN bit pattern included. ulp = distance in float32 steps from the correctly rounded result
// where that result is normal; where it is subnormal the distance is counted in steps of 2^-149 ("steps"):
//   exp        ≤ 1 ulp      x ∈ [-87.34, 88.72]; subnormal results (x < -87.34) within 1 step; exactly 0 from
//                           -103.97208 down (-Inf included); +Inf from 88.72283935546875 up (the first float32
//                           above ln(2^128 − 2^103), where float32 overflows)
//   expNonPositive4 ≤ 1 ulp   x ∈ [-87.33654, 0]; below (and at -Inf) it is constant, about 2^-126 (the clamp is the
//                           largest float32 whose exp is still normal)
//   expNonPositiveShort4 ≤ 2 ulp   x ∈ [-87.33654, 0], as expNonPositive4 otherwise (the degree-3 polynomial of the
//                           QFL far negatives; at most 2.26 units of the result's last place, every float32 scanned)
//   log        ≤ 1 ulp      every positive float32 incl. subnormals; log(±0) = -Inf, log(<0) = NaN, log(+Inf) = +Inf
//   log1p      ≤ 1 ulp      log1pSmall, x ∈ [0, 1] (only used on exp(-|x|) ∈ (0, 1])
//   log1pAtanh4 ≤ 2 ulp     x ∈ [0, 1]; subnormal x within 1 step
//   sigmoid    ≤ 3 ulp      all x; subnormal results (x ∈ [-88.72, -87.34)) within 1 step; exactly +0 for
//                           x ≤ -88.72283935546875 (float32 exp(-x) overflows from there on, so torch's
//                           1/(1+exp(-x)) is 0); SIGMOID_ZERO_BELOW is the next float32 up, for a strict comparison
//   softplus   ≤ 2 ulp, and ≤ 4.8e-7 absolute   all x; subnormal results within 1 step: softplus(-100) = 3.78e-44
//   atan       ≤ 3 ulp      all x (scalar only); atan(±0) = ±0
//   powPos     ≤ 1 + 2·|p·ln a| ulp   a ∈ [0, 1], normal results: exp(p·log a) carries log's rounding p-fold
//                           (largest seen 1 + 1.81·|p·ln a|, p = 2.5); a^0 = 1, 0^p = 0 for p > 0, +Inf for p < 0
//   powInt     a ∈ [0, 1]: correctly rounded for n ≤ 2, ≤ 1 ulp for n = 3, ≤ 2 ulp for n = 4
// The scalar and f32x4 tiers return the same bits for every input scanned (the test allows 1 ulp).
// NaN propagates through every function, whatever its bit pattern (a^0 = 1 for NaN too, as torch's pow).

// ---------------------------------------------------------------------------------------------
// constants of the exp and log (Cody-Waite's ln 2 split and range limits as in Cephes' single-precision functions)
export const LOG2E: f32 = 1.44269504088896341;
export const LN2_HI: f32 = 0.693359375;
export const LN2_LO: f32 = -2.12194440e-4;
const EXP_HI: f32 = 88.8;      // exp overflows to +Inf above 88.7228 by the two-step scaling below
const EXP_LO: f32 = -104.0;    // exp(-104) = 0 in float32 after rounding
const SQRTHF: f32 = 0.707106781186547524;
const FLT_MIN: f32 = 1.17549435e-38;
const SQRT2_MINUS_1: f32 = 0.41421356237309515;
export const ROUND_MAGIC: f32 = 12582912.0;        // 1.5·2^23
export const ROUND_MAGIC_BITS: i32 = 0x4B400000;   // its bit pattern
/**
 * torch computes sigmoid as 1/(1+exp(-x)); exp(-x) overflows for x ≤ -88.72283935546875, so sigmoid is exactly 0
 * there. This is the next float32 above that value: `x < SIGMOID_ZERO_BELOW` is `x ≤ -88.72283935546875`.
 */
export const SIGMOID_ZERO_BELOW: f32 = -88.72283172607422;
/** exp1's polynomial P(r), from the r⁴ term down (e^r = 1 + r + r²·P(r)). */
export const EXP_P4: f32 = 0.0013814454432576895;
export const EXP_P3: f32 = 0.0083687799051404;
export const EXP_P2: f32 = 0.04166839271783829;
export const EXP_P1: f32 = 0.1666651964187622;
export const EXP_P0: f32 = 0.4999999403953552;
/** The largest float32 whose exp is still normal (expNonPositive4's clamp). */
export const EXP_NORMAL_LO: f32 = -87.33654022216797;
/** log1pAtanh4's cubic Q(z), from the z³ term down (atanh(s)/s = 1 + z·Q(z)). */
export const ATANH_Q3: f32 = 0.14006288349628448;
export const ATANH_Q2: f32 = 0.14000847935676575;
export const ATANH_Q1: f32 = 0.2001076638698578;
export const ATANH_Q0: f32 = 0.3333320915699005;

// ---------------------------------------------------------------------------------------------
// scalar tier

/**
 * e^x: Cody-Waite reduction to r ∈ [−ln 2/2, ln 2/2], e^r = 1 + r + r²·P(r) with P of degree 4 fitted for the least
 * maximum relative error of e^r (3.1e-9 before float32 rounding; Cephes expf uses degree 5 for the same 1 ulp result),
 * 2^n applied in two halves.
 */
// @ts-ignore: decorator
@inline export function exp1(x: f32): f32 {
  // NaN stays NaN through the clamps: comparisons with NaN are false
  x = x > EXP_HI ? EXP_HI : x;
  x = x < EXP_LO ? EXP_LO : x;
  const fx = nearest<f32>(x * LOG2E);
  let r = x - fx * LN2_HI;
  r = r - fx * LN2_LO;
  // P(r) by Estrin's scheme, grouped exactly as the f32x4 stages (expPolyHead4, expPolyTail4), so both tiers round alike
  const z = r * r;
  const h = (r * EXP_P3 + EXP_P2) + z * EXP_P4;
  let y = (r * EXP_P1 + EXP_P0) + h * z;
  y = (y * z + r) + 1.0;
  const n = <i32>fx;
  const n1 = n >> 1;
  const n2 = n - n1;
  return y * reinterpret<f32>((n1 + 127) << 23) * reinterpret<f32>((n2 + 127) << 23);
}

/** Natural log of a positive normal finite x (no special cases). */
// @ts-ignore: decorator
@inline export function logPositive1(x: f32): f32 {
  const bits = reinterpret<i32>(x);
  let e = <f32>((bits >>> 23) - 126);
  let m = reinterpret<f32>((bits & 0x007fffff) | 0x3f000000); // m ∈ [0.5, 1)
  if (m < SQRTHF) { e -= 1.0; m = m + m - 1.0; } else { m = m - 1.0; }
  return log1pPoly1(m, e);
}

/** Natural log for every float32: subnormals, 0 → -Inf, negative → NaN, +Inf → +Inf, NaN → NaN. */
// @ts-ignore: decorator
@inline export function log1(x: f32): f32 {
  if (!(x >= FLT_MIN)) { // subnormal, zero, negative or NaN
    if (x == 0) return -Infinity;
    if (!(x > 0)) return NaN;
    return logPositive1(x * 8388608.0) - 15.942385152878742; // 23·ln 2
  }
  if (x == Infinity) return Infinity;
  return logPositive1(x);
}

/**
 * log(1 + e) for e ∈ [0, 1] without forming 1 + e (whose rounding would lose tiny e): for e ≤ √2 − 1 the Cephes
 * polynomial takes m = e directly; above, log(1 + e) = ln 2 + log(1 + (e − 1)/2), where (e − 1)/2 is exact.
 */
// @ts-ignore: decorator
@inline export function log1pSmall1(e: f32): f32 {
  const big = e > SQRT2_MINUS_1;
  return log1pPoly1(big ? (e - 1.0) * 0.5 : e, big ? 1.0 : 0.0);
}

/** k·ln 2 + log(1 + m) for m ∈ [√½ − 1, √2 − 1], Cephes logf's polynomial. */
// @ts-ignore: decorator
@inline function log1pPoly1(m: f32, k: f32): f32 {
  const z = m * m;
  let y: f32 = 7.0376836292e-2;
  y = y * m - 1.1514610310e-1;
  y = y * m + 1.1676998740e-1;
  y = y * m - 1.2420140846e-1;
  y = y * m + 1.4249322787e-1;
  y = y * m - 1.6668057665e-1;
  y = y * m + 2.0000714765e-1;
  y = y * m - 2.4999993993e-1;
  y = y * m + 3.3333331174e-1;
  y = y * m * z;
  y += k * LN2_LO;
  y -= 0.5 * z;
  return m + y + k * LN2_HI;
}

// @ts-ignore: decorator
@inline export function softplus1(x: f32): f32 {
  const e = exp1(-Mathf.abs(x));
  return (x > 0 ? x : 0) + log1pSmall1(e);
}

// @ts-ignore: decorator
@inline export function sigmoid1(x: f32): f32 {
  const e = exp1(-Mathf.abs(x));
  const r: f32 = 1.0 / (1.0 + e);
  if (x < SIGMOID_ZERO_BELOW) return 0;
  return x >= 0 ? r : e * r;
}

/** a^n for a small non-negative integer n by repeated squaring (no general pow for integer β). */
// @ts-ignore: decorator
@inline export function powInt1(a: f32, n: i32): f32 {
  let r: f32 = 1.0;
  let b = a;
  while (n > 0) {
    if (n & 1) r *= b;
    b *= b;
    n >>= 1;
  }
  return r;
}

/** a^p for a ≥ 0 and any p (torch's pow: 0^0 = 1, 0^p = 0 for p > 0, +Inf for p < 0). */
// @ts-ignore: decorator
@inline export function powPos1(a: f32, p: f32): f32 {
  if (p == 0) return 1.0;
  return exp1(p * log1(a));
}

/** atan(x), Cephes atanf (≤ 3 ulp, see the header); used by CIoU. */
export function atan1(x: f32): f32 {
  if (x == 0) return x; // ±0 keeps its sign, as torch's atan
  const sign: f32 = x < 0 ? -1.0 : 1.0;
  let ax = Mathf.abs(x);
  let y: f32 = 0;
  if (ax > 2.414213562373095) { y = 1.5707963267948966; ax = -1.0 / ax; }
  else if (ax > 0.4142135623730950) { y = 0.7853981633974483; ax = (ax - 1.0) / (ax + 1.0); }
  const z = ax * ax;
  const p: f32 = (((8.05374449538e-2 * z - 1.38776856032e-1) * z + 1.99777106478e-1) * z - 3.33329491539e-1) * z * ax + ax;
  return sign * (y + p);
}

// ---------------------------------------------------------------------------------------------
// f32x4 tier (compiled only with --enable simd)

/** −|x| per lane by setting the sign bit: one OR, where neg(abs(x)) costs engines two masks and two operations. */
// @ts-ignore: decorator
@inline export function negAbs4(x: v128): v128 {
  return v128.or(x, i32x4.splat(<i32>0x80000000));
}

/**
 * A vector constant for the stage functions below. `k` holds zero bits that the caller computed at run time (an
 * "opaque zero"), so no compiler can fold the OR and put the constant back at each use: newer V8 (Turboshaft)
 * materialises a vector constant at every use it appears in, while `c | k` is one value that all its uses share.
 * Callers with nothing to share pass nothing: OR with a literal zero folds away.
 */
// @ts-ignore: decorator
@inline export function kf(c: f32, k: v128): v128 {
  return v128.or(f32x4.splat(c), k);
}

// @ts-ignore: decorator
@inline export function ki(c: i32, k: v128): v128 {
  return v128.or(i32x4.splat(c), k);
}

/**
 * The f32x4 exp in stages, so that a caller with several independent vectors can apply each stage to all of them
 * before the next: one vector's exp is a chain of about 25 dependent operations, and a CPU that is handed one such
 * chain at a time waits on each result (latency-bound; interleaving four vectors ran the QFL negatives 1.8× faster).
 * exp4 and expNonPositive4 below are the same stages applied to one vector, so both paths give the same bits.
 *
 * Stage 1: t = x·log2 e + 1.5·2^23, whose low mantissa bits hold n = round(x·log2 e) (cheaper than nearest + trunc).
 */
// @ts-ignore: decorator
@inline export function expSplit4(x: v128, k: v128 = i32x4.splat(0)): v128 {
  return f32x4.add(f32x4.mul(x, kf(LOG2E, k)), kf(ROUND_MAGIC, k));
}

/**
 * Stage 2: the remainder r = x − n·ln 2, by Cody-Waite's two-part ln 2. n = nearest(x·log2 e) by its own rounding
 * (roundps) instead of t − 1.5·2^23: the same value while |x·log2 e| < 2^22 (both round the same product to nearest
 * even; exp4 clamps x to [−104, 88.7], the others take x in [−87.34, 0]), so the same bits (an exhaustive comparison
 * over every float32 input: exp4, sigmoid4, softplus4 identical; expNonPositive4 identical for every x ≤ 0 and NaN),
 * but not behind stage 1's addition, which took three cycles off each vector's chain of dependent operations (QFL
 * 2.7 % faster). The product x·log2 e is stage 1's (one multiplication; the compilers merge the two).
 */
// @ts-ignore: decorator
@inline export function expRemainder4(x: v128, k: v128 = i32x4.splat(0)): v128 {
  const fx = f32x4.nearest(f32x4.mul(x, kf(LOG2E, k)));
  const r = f32x4.sub(x, f32x4.mul(fx, kf(LN2_HI, k)));
  return f32x4.sub(r, f32x4.mul(fx, kf(LN2_LO, k)));
}

/**
 * Stage 3: the upper half of exp1's polynomial P(r) = P0 + P1·r + P2·r² + P3·r³ + P4·r⁴, by Estrin's scheme:
 * h = (P2 + P3·r) + P4·r². The same operations as Horner's rule (r² is needed anyway), in about half the chain of
 * dependent steps, which is what bounds these kernels (see above).
 */
// @ts-ignore: decorator
@inline export function expPolyHead4(r: v128, k: v128 = i32x4.splat(0)): v128 {
  const r2 = f32x4.mul(r, r);
  return f32x4.add(f32x4.add(f32x4.mul(r, kf(EXP_P3, k)), kf(EXP_P2, k)), f32x4.mul(r2, kf(EXP_P4, k)));
}

/** Stage 4: P(r) = (P0 + P1·r) + h·r², and e^r = 1 + r + r²·P(r). */
// @ts-ignore: decorator
@inline export function expPolyTail4(h: v128, r: v128, k: v128 = i32x4.splat(0)): v128 {
  const r2 = f32x4.mul(r, r);
  const y = f32x4.add(f32x4.add(f32x4.mul(r, kf(EXP_P1, k)), kf(EXP_P0, k)), f32x4.mul(h, r2));
  return f32x4.add(f32x4.add(f32x4.mul(y, r2), r), kf(1.0, k));
}

/** Stage 5 of exp4: e^r·2^n, 2^n applied in two halves so that n down to −150 still gives subnormals. */
// @ts-ignore: decorator
@inline export function expScale4(y: v128, t: v128): v128 {
  const n = i32x4.sub(t, i32x4.splat(ROUND_MAGIC_BITS));
  const n1 = i32x4.shr_s(n, 1);
  const n2 = i32x4.sub(n, n1);
  const bias = i32x4.splat(127);
  const s1 = i32x4.shl(i32x4.add(n1, bias), 23);
  const s2 = i32x4.shl(i32x4.add(n2, bias), 23);
  return f32x4.mul(f32x4.mul(y, s1), s2);
}

/** Stage 5 of expNonPositive4: one scaling; t's low bits hold n + 0x400000, and (n + 127) << 23 is 2^n. */
// @ts-ignore: decorator
@inline export function expScaleNormal4(y: v128, t: v128, k: v128 = i32x4.splat(0)): v128 {
  return f32x4.mul(y, i32x4.shl(i32x4.sub(t, ki(ROUND_MAGIC_BITS - 127, k)), 23));
}

/** The clamp in front of exp4: NaN stays NaN (pmin/pmax return the first operand when the comparison fails). */
// @ts-ignore: decorator
@inline export function expClamp4(x: v128): v128 {
  return f32x4.pmax(f32x4.pmin(x, f32x4.splat(EXP_HI)), f32x4.splat(EXP_LO));
}

/** The clamp in front of expNonPositive4: −87.33654022216797 is the largest float32 whose exp is still normal. */
// @ts-ignore: decorator
@inline export function expClampNormal4(x: v128, k: v128 = i32x4.splat(0)): v128 {
  return f32x4.pmax(x, kf(EXP_NORMAL_LO, k));
}

// @ts-ignore: decorator
@inline export function exp4(x: v128): v128 {
  x = expClamp4(x);
  const t = expSplit4(x);
  const r = expRemainder4(x);
  return expScale4(expPolyTail4(expPolyHead4(r), r), t);
}

/**
 * expPolyTail4's form with a degree-3 P (e^r = 1 + r + r²·P(r), P fitted for the least maximum relative error of e^r:
 * 1.05e-7 before float32 rounding, against 3.1e-9 for degree 4): two operations fewer per vector, for the QFL far
 * negatives, whose loss and gradient carry e^x's error about threefold (σ³) and stay well inside upstream's float32
 * error there. Stage 3 of expNonPositiveShort4: h = (P0 + P1·r) + r²·(P2 + P3·r).
 */
// @ts-ignore: decorator
@inline export function expShortPolyHead4(r: v128, k: v128 = i32x4.splat(0)): v128 {
  const r2 = f32x4.mul(r, r);
  return f32x4.add(
    f32x4.add(f32x4.mul(r, kf(EXP_SHORT_P1, k)), kf(EXP_SHORT_P0, k)),
    f32x4.mul(r2, f32x4.add(f32x4.mul(r, kf(EXP_SHORT_P3, k)), kf(EXP_SHORT_P2, k))),
  );
}

/** Stage 4 of expNonPositiveShort4: e^r = 1 + r + r²·h. */
// @ts-ignore: decorator
@inline export function expShortPolyTail4(h: v128, r: v128, k: v128 = i32x4.splat(0)): v128 {
  return f32x4.add(f32x4.add(f32x4.mul(h, f32x4.mul(r, r)), r), kf(1.0, k));
}

export const EXP_SHORT_P3: f32 = 0.008312520571053028;
export const EXP_SHORT_P2: f32 = 0.041890159249305725;
export const EXP_SHORT_P1: f32 = 0.16667114198207855;
export const EXP_SHORT_P0: f32 = 0.499992311000824;

/** expNonPositive4 with the shorter polynomial (the QFL far negatives' stages, for one vector). */
// @ts-ignore: decorator
@inline export function expNonPositiveShort4(x: v128): v128 {
  x = expClampNormal4(x);
  const t = expSplit4(x);
  const r = expRemainder4(x);
  return expScaleNormal4(expShortPolyTail4(expShortPolyHead4(r), r), t);
}

/**
 * e^x for lanes x ≤ 0, floored at 2^−126 (x below −87.34 gives 1.18e−38 instead of a subnormal): one scaling
 * instead of two. For the QFL and focal negatives this changes nothing that float32 can hold: σ ≈ e there and σ²
 * underflows to 0 either way, as torch's sigmoid (exactly 0 below −88.72) does.
 */
// @ts-ignore: decorator
@inline export function expNonPositive4(x: v128): v128 {
  x = expClampNormal4(x);
  const t = expSplit4(x);
  const r = expRemainder4(x);
  return expScaleNormal4(expPolyTail4(expPolyHead4(r), r), t);
}

/** log of positive normal finite lanes. */
// @ts-ignore: decorator
@inline export function logPositive4(x: v128): v128 {
  const e0 = i32x4.sub(i32x4.shr_u(x, 23), i32x4.splat(126));
  let m = v128.or(v128.and(x, i32x4.splat(0x007fffff)), i32x4.splat(0x3f000000));
  const small = f32x4.lt(m, f32x4.splat(SQRTHF));          // all-ones lanes where m < √½
  const e = f32x4.convert_i32x4_s(i32x4.add(e0, small));     // e - 1 there (mask is -1)
  m = f32x4.add(f32x4.sub(m, f32x4.splat(1.0)), v128.and(m, small));
  return log1pPoly4(m, e);
}

/** log for every lane value: subnormals, 0 → -Inf, negative → NaN, +Inf → +Inf, NaN → NaN. */
// @ts-ignore: decorator
@inline export function log4(x: v128): v128 {
  const sub = f32x4.lt(x, f32x4.splat(FLT_MIN));
  const scaled = v128.bitselect(f32x4.mul(x, f32x4.splat(8388608.0)), x, sub);
  let r = logPositive4(scaled);
  r = f32x4.sub(r, v128.and(sub, f32x4.splat(15.942385152878742)));
  r = v128.bitselect(f32x4.splat(-Infinity), r, f32x4.eq(x, f32x4.splat(0)));
  r = v128.bitselect(f32x4.splat(Infinity), r, f32x4.eq(x, f32x4.splat(Infinity)));
  // negative lanes and NaN lanes: x < 0 or x != x
  const bad = v128.or(f32x4.lt(x, f32x4.splat(0)), f32x4.ne(x, x));
  return v128.bitselect(f32x4.splat(NaN), r, bad);
}

/** log(1 + e) for lanes e ∈ [0, 1]; the method of log1pSmall1. */
// @ts-ignore: decorator
@inline export function log1pSmall4(e: v128): v128 {
  const big = f32x4.gt(e, f32x4.splat(SQRT2_MINUS_1));
  const m = v128.bitselect(f32x4.mul(f32x4.sub(e, f32x4.splat(1.0)), f32x4.splat(0.5)), e, big);
  return log1pPoly4(m, v128.and(big, f32x4.splat(1.0)));
}

/**
 * log(1 + e) for lanes e ∈ [0, 1] as 2·atanh(s), s = e/(2 + e) ∈ [0, 1/3]: 2s·(1 + s²·Q(s²)), Q a fitted cubic
 * (≤ 2 ulp over [0, 1], measured in float32 against float64). One division instead of log1pSmall4's range split and
 * degree-9 polynomial: about a third of the operations, for the QFL negatives' hot path.
 */
// @ts-ignore: decorator
@inline export function log1pAtanh4(e: v128): v128 {
  const s = atanhArg4(e);
  const z = f32x4.mul(s, s);
  return atanhFinish4(s, z, atanhPolyTail4(atanhPolyHead4(z), z));
}

/** log1pAtanh4 in stages (see expSplit4 for why). Stage 1: s = e/(2 + e). */
// @ts-ignore: decorator
@inline export function atanhArg4(e: v128, k: v128 = i32x4.splat(0)): v128 {
  return f32x4.div(e, f32x4.add(kf(2.0, k), e));
}

/**
 * Stage 2, on z = s²: atanh(s)/s = 1 + z·Q(z), Q a cubic fitted on z ∈ [0, 1/9] for the least maximum relative error
 * (4.5e-9 before float32 rounding; the Taylor series needs degree 5 for the same result). Its first terms.
 */
// @ts-ignore: decorator
@inline export function atanhPolyHead4(z: v128, k: v128 = i32x4.splat(0)): v128 {
  const p = f32x4.add(f32x4.mul(kf(ATANH_Q3, k), z), kf(ATANH_Q2, k));
  return f32x4.add(f32x4.mul(p, z), kf(ATANH_Q1, k));
}

/** Stage 3. */
// @ts-ignore: decorator
@inline export function atanhPolyTail4(p: v128, z: v128, k: v128 = i32x4.splat(0)): v128 {
  return f32x4.add(f32x4.mul(p, z), kf(ATANH_Q0, k));
}

/** Stage 4: 2s + 2s·z·p. */
// @ts-ignore: decorator
@inline export function atanhFinish4(s: v128, z: v128, p: v128): v128 {
  const s2 = f32x4.add(s, s);
  return f32x4.add(s2, f32x4.mul(f32x4.mul(s2, z), p));
}

/**
 * log1p(e)/e for e ∈ [0, e^−1.5] (far-negative logits, x < −1.5, in the QFL kernel): a degree-5 polynomial fitted
 * for the least maximum relative error on that interval (9.1e-9 with its float32 coefficients, against the float32
 * rounding's 6e-8), P(e) = 1 + e·Q(e) (the Taylor series to e⁷ it replaces reached 1.25 ulp with two terms more).
 * Q(e) = Q1 + Q2·e + … + Q5·e⁴ by Estrin's scheme, (Q1 + Q2·e) + e²·((Q3 + Q4·e) + Q5·e²): one multiplication more
 * than Horner's rule, but five dependent steps instead of eight, and the QFL far path is bound by its chains of
 * dependent operations (2.7 % faster). softplus = e·P(e) is within 1.19 ulp for every float32 e ≥ 2⁻²⁴ up to e^−1.5
 * (an exhaustive scan: 1.188 ulp at e = 0.22289; test/math.test.ts checks every float32 from 0.2 up and a sample
 * below); below 2⁻²⁴, P(e) rounds to 1.
 */
// @ts-ignore: decorator
@inline export function log1pFarQ4(e: v128, k: v128): v128 {
  const e2 = f32x4.mul(e, e);
  const lo = f32x4.add(f32x4.mul(e, kf(FAR_Q2, k)), kf(FAR_Q1, k));
  const hi = f32x4.add(f32x4.mul(e, kf(FAR_Q4, k)), kf(FAR_Q3, k));
  return f32x4.add(lo, f32x4.mul(e2, f32x4.add(hi, f32x4.mul(e2, kf(FAR_Q5, k)))));
}

/** P(e) = 1 + e·Q(e) from q = Q(e) (log1pFarQ4). */
// @ts-ignore: decorator
@inline export function log1pFarTail4(q: v128, e: v128, k: v128): v128 {
  return f32x4.add(f32x4.mul(q, e), kf(1.0, k));
}

/** log1pFarQ4's coefficients, e⁵ … e. */
export const FAR_Q5: f32 = -0.09887751191854477;
export const FAR_Q4: f32 = 0.18525610864162445;
export const FAR_Q3: f32 = -0.24845537543296814;
export const FAR_Q2: f32 = 0.3332609534263611;
export const FAR_Q1: f32 = -0.49999889731407166;

/** softplus of far-negative logits from e = exp(x) ≤ e^−1.5: e·P(e) (the two stages above, for one vector). */
// @ts-ignore: decorator
@inline export function log1pFar4(e: v128, k: v128 = i32x4.splat(0)): v128 {
  return f32x4.mul(e, log1pFarTail4(log1pFarQ4(e, k), e, k));
}

/** k·ln 2 + log(1 + m) for lanes m ∈ [√½ − 1, √2 − 1]: the polynomial of log1pPoly1. */
// @ts-ignore: decorator
@inline function log1pPoly4(m: v128, k: v128): v128 {
  const z = f32x4.mul(m, m);
  let y = f32x4.splat(7.0376836292e-2);
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(-1.1514610310e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(1.1676998740e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(-1.2420140846e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(1.4249322787e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(-1.6668057665e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(2.0000714765e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(-2.4999993993e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(3.3333331174e-1));
  y = f32x4.mul(f32x4.mul(y, m), z);
  y = f32x4.add(y, f32x4.mul(k, f32x4.splat(LN2_LO)));
  y = f32x4.sub(y, f32x4.mul(z, f32x4.splat(0.5)));
  return f32x4.add(f32x4.add(m, y), f32x4.mul(k, f32x4.splat(LN2_HI)));
}

// @ts-ignore: decorator
@inline export function softplus4(x: v128): v128 {
  const e = exp4(negAbs4(x));
  return f32x4.add(f32x4.pmax(x, f32x4.splat(0)), log1pSmall4(e));
}

// @ts-ignore: decorator
@inline export function sigmoid4(x: v128): v128 {
  const e = exp4(negAbs4(x));
  const r = f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), e));
  const s = v128.bitselect(r, f32x4.mul(e, r), f32x4.ge(x, f32x4.splat(0)));
  return v128.andnot(s, f32x4.lt(x, f32x4.splat(SIGMOID_ZERO_BELOW)));
}

/** a^n for lanes a ≥ 0 and a small non-negative integer n. */
// @ts-ignore: decorator
@inline export function powInt4(a: v128, n: i32): v128 {
  let r = f32x4.splat(1.0);
  let b = a;
  while (n > 0) {
    if (n & 1) r = f32x4.mul(r, b);
    b = f32x4.mul(b, b);
    n >>= 1;
  }
  return r;
}

/** a^p for lanes a ≥ 0 and any p (torch's pow conventions). */
// @ts-ignore: decorator
@inline export function powPos4(a: v128, p: f32): v128 {
  if (p == 0) return f32x4.splat(1.0);
  return exp4(f32x4.mul(f32x4.splat(p), log4(a)));
}

// ---------------------------------------------------------------------------------------------
// lane helpers for partial vectors (tails shorter than 4 go through the same f32x4 code)

/** Loads `n` (1..4) floats; missing lanes are `fill`. */
// @ts-ignore: decorator
@inline export function loadPartial4(p: usize, n: i32, fill: f32): v128 {
  if (n >= 4) return v128.load(p);
  let v = f32x4.splat(fill);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (n > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (n > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** Stores the first `n` (1..4) lanes. */
// @ts-ignore: decorator
@inline export function storePartial4(p: usize, v: v128, n: i32): void {
  if (n >= 4) { v128.store(p, v); return; }
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** Lane mask with all ones in lanes < n. */
// @ts-ignore: decorator
@inline export function laneMask4(n: i32): v128 {
  return i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(n));
}

/** Horizontal sum of the four lanes. */
// @ts-ignore: decorator
@inline export function hsum4(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// ---------------------------------------------------------------------------------------------
// torch's subgradients of elementwise max/min: a tie splits the gradient 0.5/0.5 between the operands.

/** Share of ∂max(a, b) that goes to a. */
// @ts-ignore: decorator
@inline export function maxShare(a: f32, b: f32): f32 {
  return a > b ? 1.0 : a == b ? 0.5 : 0.0;
}

/** Share of ∂min(a, b) that goes to a. */
// @ts-ignore: decorator
@inline export function minShare(a: f32, b: f32): f32 {
  return a < b ? 1.0 : a == b ? 0.5 : 0.0;
}
