// Quality Focal Loss (mmdetection v3.1 `quality_focal_loss`, `..._tensor_target`, `..._with_prob`), fused
// forward and gradient in one pass.
//
// Per element, with σ = sigmoid(x), sp = softplus(x), y the soft target, d = y − σ:
//   negative  L = sp·σ^β                 ∂L/∂x = σ^β·σ + β·σ^(β−1)·σ(1−σ)·sp
//   positive  L = BCE(x, y)·|d|^β        ∂L/∂x = (σ−y)·|d|^β − β|d|^(β−1)·sign(d)·σ(1−σ)·BCE
//                                        ∂L/∂y = −x·|d|^β + β|d|^(β−1)·sign(d)·BCE
// The scale factors are part of the graph (not detached), as upstream. A negative is the positive form at y = 0
// (same value, same ∂L/∂x), so a vector that holds a positive lane evaluates the positive form on every lane and
// masks ∂L/∂y to the positive lanes.
//
// Common ABI of the loss kernels: every kernel returns Σ_i coef_i·L_i as f64, where L_i is the row loss (the sum over
// the row's classes), and writes coef_i·∂L_i/∂input into the gradient buffers. A pointer of 0 means "not wanted".
// The caller folds weight, reduction, avg_factor, loss_weight and an upstream gradient into coef.

import {
  exp1, log1, log1pSmall1, exp4, negAbs4, log1pSmall4, SIGMOID_ZERO_BELOW,
  kf, ki, LOG2E, ROUND_MAGIC, LN2_HI, LN2_LO, ROUND_MAGIC_BITS, EXP_P4, EXP_P3, EXP_P2, EXP_P1, EXP_P0, EXP_NORMAL_LO,
  ATANH_Q3, ATANH_Q2, ATANH_Q1, ATANH_Q0, expClamp4, expClampNormal4, expSplit4, expRemainder4, expPolyHead4, expPolyTail4, expScale4, expScaleNormal4,
  atanhArg4, atanhPolyHead4, atanhPolyTail4, atanhFinish4, log1pFarQ4, log1pFarTail4,
  FAR_Q5, FAR_Q4, FAR_Q3, FAR_Q2, FAR_Q1, expShortPolyHead4, expShortPolyTail4,
  EXP_SHORT_P3, EXP_SHORT_P2, EXP_SHORT_P1, EXP_SHORT_P0,
  loadPartial4, storePartial4, laneMask4, hsum4,
} from "./math";
import {
  powerMode, pow1, dpow1, pow4, dpow4, sign1, mulSign4,
  MODE_ZERO, MODE_TWO,
} from "./power";

// ---------------------------------------------------------------------------------------------
// logits, scalar tier

// @ts-ignore: decorator
@inline function logitElem1(
  x: f32, y: f32, isPos: bool, c: f32, pg: usize, pgy: usize, beta: f32, mode: i32,
): f32 {
  const e = exp1(-Mathf.abs(x));
  const r: f32 = 1.0 / (1.0 + e);
  let sig = x >= 0 ? r : e * r;
  const oms = x >= 0 ? e * r : r;
  if (x < SIGMOID_ZERO_BELOW) sig = 0;
  const sp = (x > 0 ? x : 0) + log1pSmall1(e);
  if (!isPos) {
    const p = pow1(sig, beta, mode);
    if (pg) store<f32>(pg, c * (p * sig + dpow1(sig, beta, mode) * sig * oms * sp));
    return sp * p;
  }
  const d = y - sig;
  const a = Mathf.abs(d);
  const bce = sp - x * y;
  const p = pow1(a, beta, mode);
  const ds = dpow1(a, beta, mode) * sign1(d);
  if (pg) store<f32>(pg, c * ((sig - y) * p - ds * sig * oms * bce));
  if (pgy) store<f32>(pgy, c * (ds * bce - x * p));
  return bce * p;
}

// ---------------------------------------------------------------------------------------------
// logits, f32x4 tier: n (1..4) lanes at px; returns the masked loss vector

/** n (1..4) lanes at px; `gyScalar`: pgy is the row's single score slot. Returns the loss vector, masked to n lanes. */
// @ts-ignore: decorator
@inline function logitChunk4(
  px: usize, y: v128, pos: v128, n: i32, c: v128, pg: usize, pgy: usize, gyScalar: bool, pe: usize,
  beta: f32, mode: i32,
): v128 {
  const x = loadPartial4(px, n, 0);
  const zero = f32x4.splat(0);
  const one = f32x4.splat(1.0);
  const e = exp4(negAbs4(x));
  const u = f32x4.add(one, e);
  const r = f32x4.div(one, u);
  const er = f32x4.mul(e, r);
  const nonneg = f32x4.ge(x, zero);
  const sig = v128.andnot(v128.bitselect(r, er, nonneg), f32x4.lt(x, f32x4.splat(SIGMOID_ZERO_BELOW)));
  const oms = v128.bitselect(er, r, nonneg);
  const sp = f32x4.add(f32x4.pmax(x, zero), log1pSmall4(e));
  let loss: v128, g: v128;
  if (!v128.any_true(pos)) {
    const p = pow4(sig, beta, mode);
    loss = f32x4.mul(sp, p);
    if (pg) {
      const dp = dpow4(sig, beta, mode);
      g = f32x4.add(f32x4.mul(p, sig), f32x4.mul(f32x4.mul(dp, sig), f32x4.mul(oms, sp)));
      storePartial4(pg, f32x4.mul(c, g), n);
    }
    if (pgy && !gyScalar) storePartial4(pgy, zero, n);
  } else {
    const d = f32x4.sub(y, sig);
    const a = f32x4.abs(d);
    // x·y on the positive lanes only: on a negative lane y = 0, and x·0 is NaN for x = ±∞ (the negative form has no
    // such product), which made an infinite negative logit beside a positive NaN
    const bce = f32x4.sub(sp, v128.and(f32x4.mul(x, y), pos));
    const p = pow4(a, beta, mode);
    const ds = mulSign4(dpow4(a, beta, mode), d);
    loss = f32x4.mul(bce, p);
    if (pg) {
      g = f32x4.sub(f32x4.mul(f32x4.sub(sig, y), p), f32x4.mul(f32x4.mul(ds, sig), f32x4.mul(oms, bce)));
      storePartial4(pg, f32x4.mul(c, g), n);
    }
    if (pgy) {
      const gy = f32x4.sub(f32x4.mul(ds, bce), f32x4.mul(x, p));
      const masked = v128.and(f32x4.mul(c, gy), pos);
      // label form: the one positive lane's value is the row's score gradient
      if (gyScalar) store<f32>(pgy, hsum4(masked)); else storePartial4(pgy, masked, n);
    }
  }
  if (pe) storePartial4(pe, loss, n);
  return n < 4 ? v128.and(loss, laneMask4(n)) : loss;
}

/**
 * Sixteen negatives (four full vectors, no positive among them): the hot path of a detector's class logits. Each
 * vector's transcendentals are long chains of dependent operations, so the four vectors go through every stage
 * together (stage functions of math.ts, applied round-robin): the CPU then overlaps four chains instead of waiting on
 * one. In a standalone test the same operations written one vector after the other ran 1.8× slower, with the same
 * bits; in this kernel the change took QFL at 67,200 × 80 from 15.2 to 13.4 ms (before the fitted polynomials).
 */
// @ts-ignore: decorator
@inline function negativeQuad4(
  px: usize, c: v128, c2: v128, pg: usize, pe: usize, pgz: usize, beta: f32, mode: i32, opaqueZero: v128,
  skip: i32 = -1, withSkip: bool = false,
): v128 {
  const x0 = v128.load(px), x1 = v128.load(px, 16), x2 = v128.load(px, 32), x3 = v128.load(px, 48);
  // each vector compared on its own: a maximum by pmax drops a NaN together with the value it is paired with (NaN in
  // x2 and 1 in x3 gave −5 in that lane), which sent a logit of 1 down the far path
  const far = kf(FAR_NEGATIVE, opaqueZero);
  if (i32x4.all_true(v128.and(
    v128.and(f32x4.lt(x0, far), f32x4.lt(x1, far)), v128.and(f32x4.lt(x2, far), f32x4.lt(x3, far)),
  ))) {
    return negativeQuadOn4(x0, x1, x2, x3, true, c, c2, pg, pe, pgz, beta, mode, opaqueZero, skip, withSkip);
  }
  return negativeQuadOn4(x0, x1, x2, x3, false, c, c2, pg, pe, pgz, beta, mode, opaqueZero, skip, withSkip);
}

/**
 * Logits below this are "far negative": e = exp(x) ≤ 0.2231, where log1p(e) is e times a degree-5 polynomial in e
 * (log1pFarQ4), so softplus needs neither a log nor a second division. A detector's class logits (prior bias
 * about −4.6) are almost all there: with logits ~ N(−4.6, 1), sixteen in a row fall below it 98.5 % of the time
 * (93 % below −2, the bound before; the quads that miss take the general path at about twice the cost).
 */
const FAR_NEGATIVE: f32 = -1.5;

/**
 * The sixteen negatives x0…x3; `far` (a constant at each call) when all are below FAR_NEGATIVE: then −|x| = x,
 * σ = e/(1+e), 1 − σ = 1/(1+e) and softplus = e·P(e); otherwise σ and 1 − σ swap where x ≥ 0 and
 * softplus = max(x, 0) + log1p(e) by the atanh form (log1pAtanh4). For β = 2 the far negatives take fewer float
 * operations, which bound this loop (farTwoFinish4; exp by expShortPolyHead4). c2 = 2c.
 */
// @ts-ignore: decorator
@inline function negativeQuadOn4(
  x0: v128, x1: v128, x2: v128, x3: v128, far: bool, c: v128, c2: v128, pg: usize, pe: usize, pgz: usize, beta: f32, mode: i32,
  opaqueZero: v128, skip: i32, withSkip: bool,
): v128 {
  const k = opaqueZero;
  const zero = f32x4.splat(0);
  const one = kf(1.0, k);
  const lo = f32x4.splat(SIGMOID_ZERO_BELOW);
  // e = exp(−|x|)
  const a0 = negExpClamp4(far ? x0 : negAbs4(x0), mode, k), a1 = negExpClamp4(far ? x1 : negAbs4(x1), mode, k);
  const a2 = negExpClamp4(far ? x2 : negAbs4(x2), mode, k), a3 = negExpClamp4(far ? x3 : negAbs4(x3), mode, k);
  const t0 = expSplit4(a0, k), t1 = expSplit4(a1, k), t2 = expSplit4(a2, k), t3 = expSplit4(a3, k);
  const r0 = expRemainder4(a0, k), r1 = expRemainder4(a1, k), r2 = expRemainder4(a2, k), r3 = expRemainder4(a3, k);
  const farTwo = far && mode == MODE_TWO;
  let y0: v128, y1: v128, y2: v128, y3: v128;
  if (farTwo) {
    y0 = expShortPolyHead4(r0, k); y1 = expShortPolyHead4(r1, k);
    y2 = expShortPolyHead4(r2, k); y3 = expShortPolyHead4(r3, k);
    y0 = expShortPolyTail4(y0, r0, k); y1 = expShortPolyTail4(y1, r1, k);
    y2 = expShortPolyTail4(y2, r2, k); y3 = expShortPolyTail4(y3, r3, k);
  } else {
    y0 = expPolyHead4(r0, k); y1 = expPolyHead4(r1, k); y2 = expPolyHead4(r2, k); y3 = expPolyHead4(r3, k);
    y0 = expPolyTail4(y0, r0, k); y1 = expPolyTail4(y1, r1, k); y2 = expPolyTail4(y2, r2, k); y3 = expPolyTail4(y3, r3, k);
  }
  const e0 = negExpScale4(y0, t0, mode, k), e1 = negExpScale4(y1, t1, mode, k);
  const e2 = negExpScale4(y2, t2, mode, k), e3 = negExpScale4(y3, t3, mode, k);
  if (farTwo) {
    // σ = e/(1 + e); softplus = e·(1 + u) with u = e·Q(e) (log1pFarQ4), and 1.5 + u for the gradient
    const s0 = f32x4.div(e0, f32x4.add(one, e0)), s1 = f32x4.div(e1, f32x4.add(one, e1));
    const s2 = f32x4.div(e2, f32x4.add(one, e2)), s3 = f32x4.div(e3, f32x4.add(one, e3));
    const q0 = log1pFarQ4(e0, k), q1 = log1pFarQ4(e1, k), q2 = log1pFarQ4(e2, k), q3 = log1pFarQ4(e3, k);
    const u0 = f32x4.mul(q0, e0), u1 = f32x4.mul(q1, e1), u2 = f32x4.mul(q2, e2), u3 = f32x4.mul(q3, e3);
    const h = kf(1.5, k);
    return farTwoFinish4(
      s0, s1, s2, s3,
      f32x4.mul(e0, f32x4.add(u0, one)), f32x4.mul(e1, f32x4.add(u1, one)),
      f32x4.mul(e2, f32x4.add(u2, one)), f32x4.mul(e3, f32x4.add(u3, one)),
      f32x4.add(u0, h), f32x4.add(u1, h), f32x4.add(u2, h), f32x4.add(u3, h),
      c2, pg, pe, pgz, opaqueZero, skip, withSkip,
    );
  }
  // 1/(1 + e), and e/(1 + e)
  const d0 = f32x4.div(one, f32x4.add(one, e0)), d1 = f32x4.div(one, f32x4.add(one, e1));
  const d2 = f32x4.div(one, f32x4.add(one, e2)), d3 = f32x4.div(one, f32x4.add(one, e3));
  const q0 = f32x4.mul(e0, d0), q1 = f32x4.mul(e1, d1), q2 = f32x4.mul(e2, d2), q3 = f32x4.mul(e3, d3);
  if (far) {
    const f0 = log1pFarQ4(e0, k), f1 = log1pFarQ4(e1, k), f2 = log1pFarQ4(e2, k), f3 = log1pFarQ4(e3, k);
    const p0 = log1pFarTail4(f0, e0, k), p1 = log1pFarTail4(f1, e1, k);
    const p2 = log1pFarTail4(f2, e2, k), p3 = log1pFarTail4(f3, e3, k);
    return negativeFinish4(
      flushSigmoid4(q0, x0, lo, mode), flushSigmoid4(q1, x1, lo, mode),
      flushSigmoid4(q2, x2, lo, mode), flushSigmoid4(q3, x3, lo, mode),
      d0, d1, d2, d3, f32x4.mul(e0, p0), f32x4.mul(e1, p1), f32x4.mul(e2, p2), f32x4.mul(e3, p3),
      c, pg, pe, pgz, beta, mode, opaqueZero, skip, withSkip,
    );
  }
  const s0 = atanhArg4(e0, k), s1 = atanhArg4(e1, k), s2 = atanhArg4(e2, k), s3 = atanhArg4(e3, k);
  const z0 = f32x4.mul(s0, s0), z1 = f32x4.mul(s1, s1), z2 = f32x4.mul(s2, s2), z3 = f32x4.mul(s3, s3);
  let p0 = atanhPolyHead4(z0, k), p1 = atanhPolyHead4(z1, k), p2 = atanhPolyHead4(z2, k), p3 = atanhPolyHead4(z3, k);
  p0 = atanhPolyTail4(p0, z0, k); p1 = atanhPolyTail4(p1, z1, k); p2 = atanhPolyTail4(p2, z2, k); p3 = atanhPolyTail4(p3, z3, k);
  const sp0 = f32x4.add(f32x4.pmax(x0, zero), atanhFinish4(s0, z0, p0));
  const sp1 = f32x4.add(f32x4.pmax(x1, zero), atanhFinish4(s1, z1, p1));
  const sp2 = f32x4.add(f32x4.pmax(x2, zero), atanhFinish4(s2, z2, p2));
  const sp3 = f32x4.add(f32x4.pmax(x3, zero), atanhFinish4(s3, z3, p3));
  const n0 = f32x4.ge(x0, zero), n1 = f32x4.ge(x1, zero), n2 = f32x4.ge(x2, zero), n3 = f32x4.ge(x3, zero);
  return negativeFinish4(
    flushSigmoid4(v128.bitselect(d0, q0, n0), x0, lo, mode), flushSigmoid4(v128.bitselect(d1, q1, n1), x1, lo, mode),
    flushSigmoid4(v128.bitselect(d2, q2, n2), x2, lo, mode), flushSigmoid4(v128.bitselect(d3, q3, n3), x3, lo, mode),
    v128.bitselect(q0, d0, n0), v128.bitselect(q1, d1, n1), v128.bitselect(q2, d2, n2), v128.bitselect(q3, d3, n3),
    sp0, sp1, sp2, sp3, c, pg, pe, pgz, beta, mode, opaqueZero, skip, withSkip,
  );
}

/**
 * The sixteen negatives' losses and gradients from σ, 1 − σ and softplus. Every value is computed before the first
 * store: a branch (`if (pg)`) between two vectors' work would let the compiler sink the second vector's whole chain
 * below it, undoing the interleaving.
 */
// @ts-ignore: decorator
@inline function negativeFinish4(
  s0: v128, s1: v128, s2: v128, s3: v128, o0: v128, o1: v128, o2: v128, o3: v128,
  sp0: v128, sp1: v128, sp2: v128, sp3: v128, c: v128, pg: usize, pe: usize, pgz: usize, beta: f32, mode: i32,
  opaqueZero: v128, skip: i32, withSkip: bool,
): v128 {
  const p0 = pow4(s0, beta, mode), p1 = pow4(s1, beta, mode), p2 = pow4(s2, beta, mode), p3 = pow4(s3, beta, mode);
  let l0 = f32x4.mul(sp0, p0), l1 = f32x4.mul(sp1, p1), l2 = f32x4.mul(sp2, p2), l3 = f32x4.mul(sp3, p3);
  if (withSkip) {
    l0 = skipLane4(l0, skip, 0); l1 = skipLane4(l1, skip, 4); l2 = skipLane4(l2, skip, 8); l3 = skipLane4(l3, skip, 12);
  }
  const sum = f32x4.add(f32x4.add(l0, l1), f32x4.add(l2, l3));
  // Every store below takes `sum & 0` (a zero the compilers cannot fold away): it makes the stores depend on all
  // four vectors, so that V8's scheduler, which places a value's producers just before the first consumer it reaches,
  // reaches the four chains together and emits them interleaved. Without it, it emitted each gradient's whole chain
  // before the next (1.3× slower).
  const tie = v128.and(sum, opaqueZero);
  if (pg) {
    storeQuad4(pg, tie,
      f32x4.mul(c, negativeGrad4(p0, s0, o0, sp0, beta, mode)), f32x4.mul(c, negativeGrad4(p1, s1, o1, sp1, beta, mode)),
      f32x4.mul(c, negativeGrad4(p2, s2, o2, sp2, beta, mode)), f32x4.mul(c, negativeGrad4(p3, s3, o3, sp3, beta, mode)));
  }
  if (pe) storeQuad4(pe, tie, l0, l1, l2, l3);
  if (pgz) storeQuad4(pgz, tie, tie, tie, tie, tie);
  return sum;
}

/**
 * β = 2, far negatives: L = σ²·sp and ∂L/∂x = σ²·(σ + 2(1 − σ)·sp) = σ³·(1 + 2·sp/e) = 2·σ³·(1.5 + u), from σ,
 * sp = e·(1 + u) and w = 1.5 + u (negativeQuadOn4); c2 = 2c. With σ by one division instead of e·(1/(1 + e)) and
 * e^x by the shorter polynomial, the far path takes four float operations per vector fewer than the general form.
 */
// @ts-ignore: decorator
@inline function farTwoFinish4(
  s0: v128, s1: v128, s2: v128, s3: v128, sp0: v128, sp1: v128, sp2: v128, sp3: v128,
  w0: v128, w1: v128, w2: v128, w3: v128, c2: v128, pg: usize, pe: usize, pgz: usize,
  opaqueZero: v128, skip: i32, withSkip: bool,
): v128 {
  const p0 = f32x4.mul(s0, s0), p1 = f32x4.mul(s1, s1), p2 = f32x4.mul(s2, s2), p3 = f32x4.mul(s3, s3);
  let l0 = f32x4.mul(sp0, p0), l1 = f32x4.mul(sp1, p1), l2 = f32x4.mul(sp2, p2), l3 = f32x4.mul(sp3, p3);
  if (withSkip) {
    l0 = skipLane4(l0, skip, 0); l1 = skipLane4(l1, skip, 4); l2 = skipLane4(l2, skip, 8); l3 = skipLane4(l3, skip, 12);
  }
  const sum = f32x4.add(f32x4.add(l0, l1), f32x4.add(l2, l3));
  const tie = v128.and(sum, opaqueZero); // as in negativeFinish4
  if (pg) {
    storeQuad4(pg, tie,
      farTwoGrad4(p0, s0, w0, c2), farTwoGrad4(p1, s1, w1, c2), farTwoGrad4(p2, s2, w2, c2), farTwoGrad4(p3, s3, w3, c2));
  }
  if (pe) storeQuad4(pe, tie, l0, l1, l2, l3);
  if (pgz) storeQuad4(pgz, tie, tie, tie, tie, tie);
  return sum;
}

/** ∂L/∂x of far negatives for β = 2, times c: c2·σ³·w with p = σ², w = 1.5 + u and c2 = 2c (farTwoFinish4). */
// @ts-ignore: decorator
@inline function farTwoGrad4(p: v128, s: v128, w: v128, c2: v128): v128 {
  return f32x4.mul(c2, f32x4.mul(f32x4.mul(p, s), w));
}

/** Lane `skip` − `first` (skip ∈ 0…15) of v cleared: a positive that the caller computes itself adds nothing here. */
// @ts-ignore: decorator
@inline function skipLane4(v: v128, skip: i32, first: i32): v128 {
  return v128.andnot(v, i32x4.eq(i32x4(0, 1, 2, 3), i32x4.splat(skip - first)));
}

/** Four vectors stored at p, each OR-ed with `tie` (see negativeFinish4). */
// @ts-ignore: decorator
@inline function storeQuad4(p: usize, tie: v128, v0: v128, v1: v128, v2: v128, v3: v128): void {
  v128.store(p, v128.or(v0, tie)); v128.store(p, v128.or(v1, tie), 16);
  v128.store(p, v128.or(v2, tie), 32); v128.store(p, v128.or(v3, tie), 48);
}

/**
 * Zero bits computed from every vector constant that negativeQuad4 (β = 2 and β = 0) forms with the opaque zero `k`.
 * Added to a run's accumulator before its loop, it gives each `c | k` a use there; value numbering then makes the
 * loop's `c | k` the same value, computed once per call instead of in every quad. The list only matters for speed.
 */
// @ts-ignore: decorator
@inline function quadConstants(k: v128): v128 {
  let h = v128.xor(kf(FAR_NEGATIVE, k), kf(1.0, k));
  h = v128.xor(h, v128.xor(kf(EXP_NORMAL_LO, k), kf(LOG2E, k)));
  h = v128.xor(h, v128.xor(kf(ROUND_MAGIC, k), kf(LN2_HI, k)));
  h = v128.xor(h, v128.xor(kf(LN2_LO, k), ki(ROUND_MAGIC_BITS - 127, k)));
  h = v128.xor(h, v128.xor(kf(EXP_P4, k), kf(EXP_P3, k)));
  h = v128.xor(h, v128.xor(kf(EXP_P2, k), kf(EXP_P1, k)));
  h = v128.xor(h, kf(EXP_P0, k));
  h = v128.xor(h, v128.xor(kf(FAR_Q5, k), kf(FAR_Q4, k)));
  h = v128.xor(h, v128.xor(kf(FAR_Q3, k), kf(FAR_Q2, k)));
  h = v128.xor(h, v128.xor(kf(FAR_Q1, k), kf(1.5, k)));
  h = v128.xor(h, v128.xor(kf(EXP_SHORT_P3, k), kf(EXP_SHORT_P2, k)));
  h = v128.xor(h, v128.xor(kf(EXP_SHORT_P1, k), kf(EXP_SHORT_P0, k)));
  h = v128.xor(h, v128.xor(kf(2.0, k), kf(ATANH_Q3, k)));
  h = v128.xor(h, v128.xor(kf(ATANH_Q2, k), kf(ATANH_Q1, k)));
  h = v128.xor(h, kf(ATANH_Q0, k));
  return v128.and(h, k);
}

/**
 * e^(−|x|) from a = −|x|, in the stages of math.ts: for β = 2 and β = 0 the cheaper exp floored at 2^−126 gives the
 * same float32 results (see expNonPositive4); other β keep the exact one, whose subnormals matter to σ^β for β < 1.
 */
// @ts-ignore: decorator
@inline function negExpClamp4(a: v128, mode: i32, k: v128): v128 {
  return mode == MODE_TWO || mode == MODE_ZERO ? expClampNormal4(a, k) : expClamp4(a);
}

// @ts-ignore: decorator
@inline function negExpScale4(y: v128, t: v128, mode: i32, k: v128): v128 {
  return mode == MODE_TWO || mode == MODE_ZERO ? expScaleNormal4(y, t, k) : expScale4(y, t);
}

/**
 * σ set to 0 below −88.72, where torch's float32 sigmoid is exactly 0. For β = 2 the negatives need no flush: there
 * e is floored at 2^−126 (expNonPositive4), σ² underflows to 0 and the loss and gradient are 0 either way.
 */
// @ts-ignore: decorator
@inline function flushSigmoid4(sig: v128, x: v128, lo: v128, mode: i32): v128 {
  return mode == MODE_TWO ? sig : v128.andnot(sig, f32x4.lt(x, lo));
}

/** ∂L/∂x of a negative: σ^β·σ + β·σ^(β−1)·σ·(1−σ)·sp; for β = 2, σ²·(σ + 2(1−σ)·sp). */
// @ts-ignore: decorator
@inline function negativeGrad4(p: v128, sig: v128, oms: v128, sp: v128, beta: f32, mode: i32): v128 {
  if (mode == MODE_TWO) {
    const t = f32x4.mul(oms, sp);
    return f32x4.mul(p, f32x4.add(sig, f32x4.add(t, t)));
  }
  return f32x4.add(f32x4.mul(p, sig), f32x4.mul(f32x4.mul(dpow4(sig, beta, mode), sig), f32x4.mul(oms, sp)));
}

/** Whether the sixteen dense targets at q are all 0 (no positive among them). */
// @ts-ignore: decorator
@inline function quietDenseQuad(q: usize): bool {
  const z = f32x4.splat(0); // compare as floats: a target of −0 is a negative, as upstream's `target != 0`
  return !v128.any_true(v128.or(
    v128.or(f32x4.ne(v128.load(q), z), f32x4.ne(v128.load(q, 16), z)),
    v128.or(f32x4.ne(v128.load(q, 32), z), f32x4.ne(v128.load(q, 48), z)),
  ));
}

/**
 * `quads` consecutive runs of sixteen negatives, added into the row's accumulator `acc` in order. A function of its
 * own, not inlined, one per β mode: inside the row loop's large body the compiler (V8's TurboFan) emitted the four
 * interleaved vectors of negativeQuad4 one after the other again; in a small function it keeps them interleaved.
 */
// @ts-ignore: decorator
@inline function negativeRun(
  acc: v128, px: usize, pg: usize, pe: usize, pgz: usize, quads: i32, c: v128, beta: f32, mode: i32,
): v128 {
  if (mode == MODE_TWO) return negativeRunTwo(acc, px, pg, pe, pgz, quads, c);
  if (mode == MODE_ZERO) return negativeRunZero(acc, px, pg, pe, pgz, quads, c);
  return negativeRunAny(acc, px, pg, pe, pgz, quads, c, beta, mode);
}

// @ts-ignore: decorator
@inline function negativeRunLoop(
  acc: v128, px: usize, pg: usize, pe: usize, pgz: usize, quads: i32, c: v128, beta: f32, mode: i32,
): v128 {
  const opaqueZero = i32x4.splat(quads >> 31); // quads > 0: all zero bits, which no compiler can know
  acc = f32x4.add(acc, quadConstants(opaqueZero)); // + 0: acc, a sum of losses from +0, stays as it is
  const c2 = f32x4.add(c, c);
  for (let q = 0; q < quads; q++) {
    const at = <usize>q << 6;
    acc = f32x4.add(acc, negativeQuad4(
      px + at, c, c2, pg ? pg + at : 0, pe ? pe + at : 0, pgz ? pgz + at : 0, beta, mode, opaqueZero,
    ));
  }
  return acc;
}

/**
 * Sixteen logits whose lane `skip` is the row's positive, as sixteen negatives with that lane's loss left out (the
 * caller computes the positive by the scalar formula and overwrites its gradient): the interleaved fast path instead of
 * four general chunks. Added into `acc`; one non-inlined function per β mode, as negativeRun.
 */
// @ts-ignore: decorator
@inline function quadWithPositive(
  acc: v128, px: usize, pg: usize, pe: usize, skip: i32, c: v128, beta: f32, mode: i32,
): v128 {
  if (mode == MODE_TWO) return quadWithPositiveTwo(acc, px, pg, pe, skip, c);
  if (mode == MODE_ZERO) return quadWithPositiveZero(acc, px, pg, pe, skip, c);
  return quadWithPositiveAny(acc, px, pg, pe, skip, c, beta, mode);
}

function quadWithPositiveTwo(acc: v128, px: usize, pg: usize, pe: usize, skip: i32, c: v128): v128 {
  const c2 = f32x4.add(c, c);
  return f32x4.add(acc, negativeQuad4(px, c, c2, pg, pe, 0, 2.0, MODE_TWO, i32x4.splat(skip >> 31), skip, true));
}

function quadWithPositiveZero(acc: v128, px: usize, pg: usize, pe: usize, skip: i32, c: v128): v128 {
  const c2 = f32x4.add(c, c);
  return f32x4.add(acc, negativeQuad4(px, c, c2, pg, pe, 0, 0.0, MODE_ZERO, i32x4.splat(skip >> 31), skip, true));
}

function quadWithPositiveAny(acc: v128, px: usize, pg: usize, pe: usize, skip: i32, c: v128, beta: f32, mode: i32): v128 {
  const c2 = f32x4.add(c, c);
  return f32x4.add(acc, negativeQuad4(px, c, c2, pg, pe, 0, beta, mode, i32x4.splat(skip >> 31), skip, true));
}

function negativeRunTwo(acc: v128, px: usize, pg: usize, pe: usize, pgz: usize, quads: i32, c: v128): v128 {
  return negativeRunLoop(acc, px, pg, pe, pgz, quads, c, 2.0, MODE_TWO);
}

function negativeRunZero(acc: v128, px: usize, pg: usize, pe: usize, pgz: usize, quads: i32, c: v128): v128 {
  return negativeRunLoop(acc, px, pg, pe, pgz, quads, c, 0.0, MODE_ZERO);
}

function negativeRunAny(
  acc: v128, px: usize, pg: usize, pe: usize, pgz: usize, quads: i32, c: v128, beta: f32, mode: i32,
): v128 {
  return negativeRunLoop(acc, px, pg, pe, pgz, quads, c, beta, mode);
}

/**
 * Every row of a label-form call with at least 16 classes, in one loop over the rows' runs of sixteen: each row's
 * last cols mod 16 logits (labelRowTail), sum, loss and score gradient are done as its last run is added. One loop
 * instead of a loop per row (qflRows' general path): at 80 classes the per-row calls (negativeRun before and after a
 * positive) and the loop's restart at every row cost about a sixth of the time, and a row with a positive four times
 * a row without. The run that holds a positive goes to labelRunWithPositive (its sixteen through quadWithPositive, a
 * call of its own). The same operations in the same order per row as the general path, so the same bits (but for
 * the far negatives of a row's tail, see labelRowTail). Returns `total` + Σ c_row·rowSum, added in row order. One
 * non-inlined function per β mode, as negativeRun.
 */
// @ts-ignore: decorator
@inline function labelRows(
  total: f64, pred: usize, label: usize, score: usize, coef: usize, rowLoss: usize, elemLoss: usize, gradPred: usize,
  gradScore: usize, rows: i32, cols: i32, beta: f32, mode: i32,
): f64 {
  if (mode == MODE_TWO) {
    return labelRowsTwo(total, pred, label, score, coef, rowLoss, elemLoss, gradPred, gradScore, rows, cols);
  }
  if (mode == MODE_ZERO) {
    return labelRowsZero(total, pred, label, score, coef, rowLoss, elemLoss, gradPred, gradScore, rows, cols);
  }
  return labelRowsAny(total, pred, label, score, coef, rowLoss, elemLoss, gradPred, gradScore, rows, cols, beta, mode);
}

// @ts-ignore: decorator
@inline function labelRowsLoop(
  total: f64, pred: usize, label: usize, score: usize, coef: usize, rowLoss: usize, elemLoss: usize, gradPred: usize,
  gradScore: usize, rows: i32, cols: i32, beta: f32, mode: i32,
): f64 {
  const opaqueZero = i32x4.splat(rows >> 31); // rows > 0: all zero bits, which no compiler can know
  let acc = quadConstants(opaqueZero); // +0, the row sum's start (see negativeRunLoop)
  const quads = cols >> 4, tail = cols & 15, rowBytes = <usize>cols << 2;
  let row = 0, q = 0;
  let rowAt: usize = 0; // the current row's byte offset
  let cs = load<f32>(coef);
  let c = f32x4.splat(cs), c2 = f32x4.add(c, c);
  let t = load<i32>(label); // the row's positive class; any value outside [0, cols) is none
  const all = rows * quads;
  for (let g = 0; g < all; g++) {
    const at = rowAt + (<usize>q << 6);
    const pg = gradPred ? gradPred + at : 0, pe = elemLoss ? elemLoss + at : 0;
    const skip = t - (q << 4);
    if (<u32>skip < 16) {
      const ro = <usize>row << 2;
      acc = labelRunWithPositive(
        acc, pred + at, pg, pe, skip, c, cs, load<f32>(score + ro), gradScore ? gradScore + ro : 0, beta, mode,
      );
    } else {
      acc = f32x4.add(acc, negativeQuad4(pred + at, c, c2, pg, pe, 0, beta, mode, opaqueZero));
    }
    if (++q == quads) {
      const ro = <usize>row << 2;
      if (tail) {
        // the row's last cols mod 16 logits, four at a time, as qflRows' general path
        const valid = <u32>t < <u32>cols;
        acc = labelRowTail(
          acc, pred + rowAt, gradPred ? gradPred + rowAt : 0, elemLoss ? elemLoss + rowAt : 0, quads << 4, cols,
          valid ? t : -1, valid ? load<f32>(score + ro) : 0, c, gradScore ? gradScore + ro : 0, beta, mode,
        );
      }
      const rowSum = hsum4(acc);
      if (rowLoss) store<f32>(rowLoss + ro, rowSum);
      if (gradScore && <u32>t >= <u32>cols) store<f32>(gradScore + ro, 0);
      total += <f64>cs * <f64>rowSum;
      acc = f32x4.splat(0);
      q = 0;
      rowAt += rowBytes;
      if (++row < rows) {
        const rn = <usize>row << 2;
        cs = load<f32>(coef + rn);
        c = f32x4.splat(cs);
        c2 = f32x4.add(c, c);
        t = load<i32>(label + rn);
      }
    }
  }
  return total;
}

/**
 * The label form with one class: a row is one logit, so four rows go through one vector (logitChunk4 with the rows'
 * coefficients, scores and positive lanes, the score gradients stored per lane), where the general path ran each row
 * on its own (about 30 ns a row): the same lane operations as that path, so the same bits, but for four far negative
 * rows, which for β = 2 go through farNegativeVec4 (labelChunk4). The total is added in row order.
 */
// @ts-ignore: decorator
@inline function oneClassRows(
  total: f64, pred: usize, label: usize, score: usize, coef: usize, rowLoss: usize, elemLoss: usize, gradPred: usize,
  gradScore: usize, rows: i32, beta: f32, mode: i32,
): f64 {
  for (let i = 0; i < rows; i += 4) {
    const at = <usize>i << 2, n = min(4, rows - i);
    const c = loadPartial4(coef + at, n, 0);
    // a row is positive when its label is 0 (the one class); lanes past the last row are not
    let t = i32x4.splat(-1);
    t = i32x4.replace_lane(t, 0, load<i32>(label + at));
    if (n > 1) t = i32x4.replace_lane(t, 1, load<i32>(label + at, 4));
    if (n > 2) t = i32x4.replace_lane(t, 2, load<i32>(label + at, 8));
    if (n > 3) t = i32x4.replace_lane(t, 3, load<i32>(label + at, 12));
    const pos = i32x4.eq(t, i32x4.splat(0));
    const l = labelChunk4(
      pred + at, v128.and(loadPartial4(score + at, n, 0), pos), pos, n, c, gradPred ? gradPred + at : 0,
      gradScore ? gradScore + at : 0, false, elemLoss ? elemLoss + at : 0, beta, mode,
    );
    if (rowLoss) storePartial4(rowLoss + at, l, n);
    total += <f64>f32x4.extract_lane(c, 0) * <f64>f32x4.extract_lane(l, 0);
    if (n > 1) total += <f64>f32x4.extract_lane(c, 1) * <f64>f32x4.extract_lane(l, 1);
    if (n > 2) total += <f64>f32x4.extract_lane(c, 2) * <f64>f32x4.extract_lane(l, 2);
    if (n > 3) total += <f64>f32x4.extract_lane(c, 3) * <f64>f32x4.extract_lane(l, 3);
  }
  return total;
}

/**
 * Columns [from, cols) of the row at px (from = 16·quads; t its positive class or −1, y its score), in chunks of four:
 * labelChunk4 (the general path's formula, but far negatives by farNegativeVec4: not the general path's bits, within
 * its bounds), with the positive's lane and score gradient (pgy, the row's slot) where a chunk holds it.
 */
// @ts-ignore: decorator
@inline function labelRowTail(
  acc: v128, px: usize, pg: usize, pe: usize, from: i32, cols: i32, t: i32, y: f32, c: v128, pgy: usize, beta: f32,
  mode: i32,
): v128 {
  for (let j = from; j < cols; j += 4) {
    const off = <usize>j << 2;
    const pos = i32x4.eq(i32x4(0, 1, 2, 3), i32x4.splat(t - j));
    acc = f32x4.add(acc, labelChunk4(
      px + off, v128.and(f32x4.splat(y), pos), pos, min(4, cols - j), c, pg ? pg + off : 0,
      pgy && v128.any_true(pos) ? pgy : 0, true, pe ? pe + off : 0, beta, mode,
    ));
  }
  return acc;
}

/**
 * logitChunk4 for the label form's chunks outside the runs of sixteen, but four far negatives (β = 2, no positive
 * lane, every lane below −1.5; lanes past n filled with a far value, their results not stored) by farNegativeVec4, and
 * then, per lane (`gyScalar` false), zero score gradients.
 */
// @ts-ignore: decorator
@inline function labelChunk4(
  px: usize, y: v128, pos: v128, n: i32, c: v128, pg: usize, pgy: usize, gyScalar: bool, pe: usize, beta: f32,
  mode: i32,
): v128 {
  if (mode == MODE_TWO && !v128.any_true(pos)) {
    const x = loadPartial4(px, n, FAR_NEGATIVE - 1);
    if (i32x4.all_true(f32x4.lt(x, f32x4.splat(FAR_NEGATIVE)))) {
      if (pgy && !gyScalar) storePartial4(pgy, i32x4.splat(0), n);
      return farNegativeVec4(x, n, c, pg, pe);
    }
  }
  return logitChunk4(px, y, pos, n, c, pg, pgy, gyScalar, pe, beta, mode);
}

/**
 * Four far negatives (x < −1.5, β = 2) by negativeQuadOn4's far formula, one vector: for the rows' last few logits,
 * where the general chunk formula cost about three times as much. Stores n (1…4) lanes of c·∂L/∂x to pg and of the
 * loss to pe (each when not 0); returns the loss masked to n lanes.
 */
// @ts-ignore: decorator
@inline function farNegativeVec4(x: v128, n: i32, c: v128, pg: usize, pe: usize): v128 {
  const k = i32x4.splat(0), one = f32x4.splat(1.0);
  const a = expClampNormal4(x, k), t = expSplit4(a, k), r = expRemainder4(a, k);
  const e = expScaleNormal4(expShortPolyTail4(expShortPolyHead4(r, k), r, k), t, k);
  const s = f32x4.div(e, f32x4.add(one, e));
  const u = f32x4.mul(log1pFarQ4(e, k), e);
  const p = f32x4.mul(s, s);
  const l = f32x4.mul(f32x4.mul(e, f32x4.add(u, one)), p);
  if (pg) storePartial4(pg, farTwoGrad4(p, s, f32x4.add(u, f32x4.splat(1.5)), f32x4.add(c, c)), n);
  if (pe) storePartial4(pe, l, n);
  return n < 4 ? v128.and(l, laneMask4(n)) : l;
}

/**
 * The run of sixteen at px whose lane `skip` is the row's positive (score y): the other fifteen as negatives
 * (quadWithPositive), the positive by the scalar formula, its loss added to the row's sum in its lane, its gradient
 * over the one quadWithPositive wrote, c·∂L/∂y to pgy. The operations of qflRows' general path.
 */
// @ts-ignore: decorator
@inline function labelRunWithPositive(
  acc: v128, px: usize, pg: usize, pe: usize, skip: i32, c: v128, cs: f32, y: f32, pgy: usize, beta: f32, mode: i32,
): v128 {
  acc = quadWithPositive(acc, px, pg, pe, skip, c, beta, mode);
  const o = <usize>skip << 2;
  const l = logitElem1(load<f32>(px + o), y, true, cs, pg ? pg + o : 0, pgy, beta, mode);
  if (pe) store<f32>(pe + o, l);
  return f32x4.add(acc, v128.and(f32x4.splat(l), i32x4.eq(i32x4(0, 1, 2, 3), i32x4.splat(skip & 3))));
}

function labelRowsTwo(
  total: f64, pred: usize, label: usize, score: usize, coef: usize, rowLoss: usize, elemLoss: usize, gradPred: usize,
  gradScore: usize, rows: i32, cols: i32,
): f64 {
  return labelRowsLoop(total, pred, label, score, coef, rowLoss, elemLoss, gradPred, gradScore, rows, cols, 2.0, MODE_TWO);
}

function labelRowsZero(
  total: f64, pred: usize, label: usize, score: usize, coef: usize, rowLoss: usize, elemLoss: usize, gradPred: usize,
  gradScore: usize, rows: i32, cols: i32,
): f64 {
  return labelRowsLoop(total, pred, label, score, coef, rowLoss, elemLoss, gradPred, gradScore, rows, cols, 0.0, MODE_ZERO);
}

function labelRowsAny(
  total: f64, pred: usize, label: usize, score: usize, coef: usize, rowLoss: usize, elemLoss: usize, gradPred: usize,
  gradScore: usize, rows: i32, cols: i32, beta: f32, mode: i32,
): f64 {
  return labelRowsLoop(total, pred, label, score, coef, rowLoss, elemLoss, gradPred, gradScore, rows, cols, beta, mode);
}

// ---------------------------------------------------------------------------------------------
// row loops

// @ts-ignore: decorator
@inline function qflRows(
  pred: usize, label: usize, score: usize, target: usize, coef: usize, rowLoss: usize, elemLoss: usize,
  gradPred: usize, gradTarget: usize, rows: i32, cols: i32, beta: f32, mode: i32, dense: bool,
): f64 {
  let total: f64 = 0;
  if (ASC_FEATURE_SIMD && !dense && cols == 1) {
    return oneClassRows(total, pred, label, score, coef, rowLoss, elemLoss, gradPred, gradTarget, rows, beta, mode);
  }
  if (ASC_FEATURE_SIMD && !dense && cols >= 16 && rows > 0) {
    return labelRows(total, pred, label, score, coef, rowLoss, elemLoss, gradPred, gradTarget, rows, cols, beta, mode);
  }
  for (let i = 0; i < rows; i++) {
    const rowOff = <usize>i * <usize>cols << 2;
    const c = load<f32>(coef + (<usize>i << 2));
    let t: i32 = -1;
    let y: f32 = 0;
    if (!dense) {
      t = load<i32>(label + (<usize>i << 2));
      if (t >= 0 && t < cols) {
        y = load<f32>(score + (<usize>i << 2));
      } else t = -1;
    }
    let rowSum: f32 = 0;
    if (ASC_FEATURE_SIMD) {
      let acc = f32x4.splat(0);
      const cv = f32x4.splat(c);
      for (let j = 0; j < cols; j += 4) {
        let off = rowOff + (<usize>j << 2);
        // a run of sixteen-wide stretches without a positive goes to negativeRun in one call (the dense form only:
        // label-form rows reach this loop with 2 to 15 classes, those of 16 or more run in labelRows)
        let k = j;
        while (dense && k + 16 <= cols && quietDenseQuad(target + rowOff + (<usize>k << 2))) k += 16;
        if (k > j) {
          acc = negativeRun(
            acc, pred + off, gradPred ? gradPred + off : 0, elemLoss ? elemLoss + off : 0,
            gradTarget && dense ? gradTarget + off : 0, (k - j) >> 4, cv, beta, mode,
          );
          if (k >= cols) break;
          j = k;
          off = rowOff + (<usize>j << 2);
        }
        const n = min(4, cols - j);
        let yv: v128, pos: v128;
        if (dense) {
          yv = loadPartial4(target + off, n, 0);
          pos = f32x4.ne(yv, f32x4.splat(0));
          if (n < 4) pos = v128.and(pos, laneMask4(n));
        } else {
          pos = i32x4.eq(i32x4(0, 1, 2, 3), i32x4.splat(t - j));
          yv = v128.and(f32x4.splat(y), pos);
        }
        let pgy: usize = 0;
        if (gradTarget) pgy = dense ? gradTarget + off : (v128.any_true(pos) ? gradTarget + (<usize>i << 2) : 0);
        acc = f32x4.add(acc, logitChunk4(
          pred + off, yv, pos, n, cv, gradPred ? gradPred + off : 0, pgy, !dense,
          elemLoss ? elemLoss + off : 0, beta, mode,
        ));
      }
      rowSum = hsum4(acc);
    } else {
      for (let j = 0; j < cols; j++) {
        const off = rowOff + (<usize>j << 2);
        const x = load<f32>(pred + off);
        let yy: f32, isPos: bool, pgy: usize = 0;
        if (dense) {
          yy = load<f32>(target + off);
          isPos = yy != 0;
          if (gradTarget) { pgy = gradTarget + off; if (!isPos) store<f32>(pgy, 0); }
        } else {
          isPos = j == t;
          yy = y;
          if (isPos && gradTarget) pgy = gradTarget + (<usize>i << 2);
        }
        const l = logitElem1(x, yy, isPos, c, gradPred ? gradPred + off : 0, pgy, beta, mode);
        if (elemLoss) store<f32>(elemLoss + off, l);
        rowSum += l;
      }
    }
    if (!dense && gradTarget && t < 0) store<f32>(gradTarget + (<usize>i << 2), 0);
    if (rowLoss) store<f32>(rowLoss + (<usize>i << 2), rowSum);
    total += <f64>c * <f64>rowSum;
  }
  return total;
}

// @ts-ignore: decorator
@inline function qflDispatch(
  pred: usize, label: usize, score: usize, target: usize, coef: usize, rowLoss: usize, elemLoss: usize,
  gradPred: usize, gradTarget: usize, rows: i32, cols: i32, beta: f32, dense: bool,
): f64 {
  // β = 2 (the GFL default) and β = 0 (ultralytics' BCE) are specialised; any other β runs with a runtime mode
  const mode = powerMode(beta);
  if (mode == MODE_TWO) return qflRows(pred, label, score, target, coef, rowLoss, elemLoss, gradPred, gradTarget, rows, cols, beta, MODE_TWO, dense);
  if (mode == MODE_ZERO) return qflRows(pred, label, score, target, coef, rowLoss, elemLoss, gradPred, gradTarget, rows, cols, beta, MODE_ZERO, dense);
  return qflRows(pred, label, score, target, coef, rowLoss, elemLoss, gradPred, gradTarget, rows, cols, beta, mode, dense);
}

/**
 * QFL on logits with (label, score) targets: label[i] ∈ [0, cols) marks the positive class of row i (anything else is
 * a negative row), score[i] its IoU target. `gradScore` receives ∂/∂score (0 for rows without a positive).
 */
export function qflLogits(
  pred: usize, label: usize, score: usize, coef: usize, rowLoss: usize, elemLoss: usize,
  gradPred: usize, gradScore: usize, rows: i32, cols: i32, beta: f32,
): f64 {
  return qflDispatch(pred, label, score, 0, coef, rowLoss, elemLoss, gradPred, gradScore, rows, cols, beta, false);
}

/**
 * The first row whose label marks a positive (in [0, cols)) and whose score lies outside [0, 1] (or is NaN), −1 if
 * none: the check of qflLogits' targets, run before the loss. The SIMD tier tests four rows at a time.
 */
export function qflScoreCheck(label: usize, score: usize, rows: i32, cols: i32): i32 {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0), one = f32x4.splat(1), width = i32x4.splat(cols);
    for (; i + 4 <= rows; i += 4) {
      const at = <usize>i << 2;
      const positive = i32x4.lt_u(v128.load(label + at), width);
      const y = v128.load(score + at);
      if (v128.any_true(v128.andnot(positive, v128.and(f32x4.ge(y, zero), f32x4.le(y, one))))) break;
    }
  }
  for (; i < rows; i++) {
    const t = load<u32>(label + (<usize>i << 2));
    const y = load<f32>(score + (<usize>i << 2));
    if (t < <u32>cols && !(y >= 0 && y <= 1)) return i;
  }
  return -1;
}

/** QFL on logits with a dense (rows × cols) soft target: every non-zero entry is a positive. */
export function qflLogitsDense(
  pred: usize, target: usize, coef: usize, rowLoss: usize, elemLoss: usize,
  gradPred: usize, gradTarget: usize, rows: i32, cols: i32, beta: f32,
): f64 {
  return qflDispatch(pred, 0, 0, target, coef, rowLoss, elemLoss, gradPred, gradTarget, rows, cols, beta, true);
}

// ---------------------------------------------------------------------------------------------
// probabilities (activated = true): torch's binary_cross_entropy clamps each log at −100 and its backward is
// (p − y)/max(p(1−p), 1e-12). This path is scalar in every build: it is not the training hot path.

// @ts-ignore: decorator
@inline function probElem1(p: f32, y: f32, isPos: bool, c: f32, pg: usize, pgy: usize, beta: f32, mode: i32): f32 {
  let lp = log1(p); lp = lp < -100 ? -100 : lp;
  let lq = log1(1.0 - p); lq = lq < -100 ? -100 : lq;
  let den = p * (1.0 - p); den = den < 1e-12 ? 1e-12 : den;
  const yy: f32 = isPos ? y : 0;
  const bce = -(yy * lp + (1.0 - yy) * lq);
  const dbce = (p - yy) / den;
  if (!isPos) {
    const s = pow1(p, beta, mode);
    if (pg) store<f32>(pg, c * (dbce * s + bce * dpow1(p, beta, mode)));
    return bce * s;
  }
  const d = y - p;
  const a = Mathf.abs(d);
  const s = pow1(a, beta, mode);
  const ds = dpow1(a, beta, mode) * sign1(d);
  if (pg) store<f32>(pg, c * (dbce * s - bce * ds));
  if (pgy) store<f32>(pgy, c * ((lq - lp) * s + bce * ds));
  return bce * s;
}

// @ts-ignore: decorator
@inline function probRows(
  pred: usize, label: usize, score: usize, target: usize, coef: usize, rowLoss: usize, elemLoss: usize,
  gradPred: usize, gradTarget: usize, rows: i32, cols: i32, beta: f32, mode: i32, dense: bool,
): f64 {
  let total: f64 = 0;
  for (let i = 0; i < rows; i++) {
    const rowOff = <usize>i * <usize>cols << 2;
    const c = load<f32>(coef + (<usize>i << 2));
    let t: i32 = -1;
    let y: f32 = 0;
    if (!dense) {
      t = load<i32>(label + (<usize>i << 2));
      if (t >= 0 && t < cols) y = load<f32>(score + (<usize>i << 2)); else t = -1;
      if (gradTarget) store<f32>(gradTarget + (<usize>i << 2), 0);
    }
    let rowSum: f32 = 0;
    for (let j = 0; j < cols; j++) {
      const off = rowOff + (<usize>j << 2);
      let yy: f32, isPos: bool, pgy: usize = 0;
      if (dense) {
        yy = load<f32>(target + off);
        isPos = yy != 0;
        if (gradTarget) { pgy = gradTarget + off; if (!isPos) store<f32>(pgy, 0); }
      } else {
        isPos = j == t;
        yy = y;
        if (isPos && gradTarget) pgy = gradTarget + (<usize>i << 2);
      }
      const l = probElem1(load<f32>(pred + off), yy, isPos, c, gradPred ? gradPred + off : 0, pgy, beta, mode);
      if (elemLoss) store<f32>(elemLoss + off, l);
      rowSum += l;
    }
    if (rowLoss) store<f32>(rowLoss + (<usize>i << 2), rowSum);
    total += <f64>c * <f64>rowSum;
  }
  return total;
}

/** QFL on probabilities (`activated`), label form when `target` is 0, dense-target form otherwise. */
export function qflProb(
  pred: usize, label: usize, score: usize, target: usize, coef: usize, rowLoss: usize, elemLoss: usize,
  gradPred: usize, gradTarget: usize, rows: i32, cols: i32, beta: f32,
): f64 {
  // β is a runtime mode here: this path is not specialised per β
  const mode = powerMode(beta);
  if (target != 0) return probRows(pred, 0, 0, target, coef, rowLoss, elemLoss, gradPred, gradTarget, rows, cols, beta, mode, true);
  return probRows(pred, label, score, 0, coef, rowLoss, elemLoss, gradPred, gradTarget, rows, cols, beta, mode, false);
}
