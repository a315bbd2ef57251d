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
  exp1, log1, log1pSmall1, exp4, expNonPositive4, negAbs4, log1pSmall4, log1pAtanh4, SIGMOID_ZERO_BELOW,
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
    const bce = f32x4.sub(sp, f32x4.mul(x, y));
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
 * Sixteen negatives (four full vectors, no positive among them): the hot path of a detector's class logits. The four
 * vectors go through each stage together, so that their independent dependency chains overlap in the CPU.
 */
// @ts-ignore: decorator
@inline function negativeQuad4(px: usize, c: v128, pg: usize, pe: usize, pgz: usize, beta: f32, mode: i32): v128 {
  const zero = f32x4.splat(0);
  const one = f32x4.splat(1.0);
  const lo = f32x4.splat(SIGMOID_ZERO_BELOW);
  const x0 = v128.load(px), x1 = v128.load(px, 16), x2 = v128.load(px, 32), x3 = v128.load(px, 48);
  const top = f32x4.pmax(f32x4.pmax(x0, x1), f32x4.pmax(x2, x3));
  if (i32x4.all_true(f32x4.lt(top, f32x4.splat(FAR_NEGATIVE)))) {
    return farNegativeQuad4(x0, x1, x2, x3, c, pg, pe, pgz, beta, mode);
  }
  const e0 = negExp4(x0, mode), e1 = negExp4(x1, mode), e2 = negExp4(x2, mode), e3 = negExp4(x3, mode);
  const u0 = f32x4.add(one, e0), u1 = f32x4.add(one, e1), u2 = f32x4.add(one, e2), u3 = f32x4.add(one, e3);
  const r0 = f32x4.div(one, u0), r1 = f32x4.div(one, u1), r2 = f32x4.div(one, u2), r3 = f32x4.div(one, u3);
  const sp0 = f32x4.add(f32x4.pmax(x0, zero), log1pAtanh4(e0));
  const sp1 = f32x4.add(f32x4.pmax(x1, zero), log1pAtanh4(e1));
  const sp2 = f32x4.add(f32x4.pmax(x2, zero), log1pAtanh4(e2));
  const sp3 = f32x4.add(f32x4.pmax(x3, zero), log1pAtanh4(e3));
  const l0 = negativeLane4(x0, e0, r0, sp0, c, pg, pe, beta, mode, zero, lo, 0);
  const l1 = negativeLane4(x1, e1, r1, sp1, c, pg, pe, beta, mode, zero, lo, 16);
  const l2 = negativeLane4(x2, e2, r2, sp2, c, pg, pe, beta, mode, zero, lo, 32);
  const l3 = negativeLane4(x3, e3, r3, sp3, c, pg, pe, beta, mode, zero, lo, 48);
  if (pgz) {
    v128.store(pgz, zero); v128.store(pgz, zero, 16); v128.store(pgz, zero, 32); v128.store(pgz, zero, 48);
  }
  return f32x4.add(f32x4.add(l0, l1), f32x4.add(l2, l3));
}

/**
 * Logits below this are "far negative": e = exp(x) ≤ 0.1353, where log1p(e) = e·(1 − e/2 + e²/3 − … − e⁷/8) to within
 * 1.15 ulp (measured in float32 against float64), so softplus needs neither a log nor a second division. A detector's
 * class logits (prior bias about −4.6) are almost all there: sixteen in a row fall below it 93 % of the time.
 */
const FAR_NEGATIVE: f32 = -2.0;

/** Sixteen negatives that are all below FAR_NEGATIVE: σ = e/(1+e), 1 − σ = 1/(1+e), softplus by its series. */
// @ts-ignore: decorator
@inline function farNegativeQuad4(
  x0: v128, x1: v128, x2: v128, x3: v128, c: v128, pg: usize, pe: usize, pgz: usize, beta: f32, mode: i32,
): v128 {
  const one = f32x4.splat(1.0);
  const lo = f32x4.splat(SIGMOID_ZERO_BELOW);
  const e0 = negExp4(x0, mode);
  const l0 = farNegativeLane4(x0, e0, f32x4.div(one, f32x4.add(one, e0)), c, pg, pe, beta, mode, lo, 0);
  const e1 = negExp4(x1, mode);
  const l1 = farNegativeLane4(x1, e1, f32x4.div(one, f32x4.add(one, e1)), c, pg, pe, beta, mode, lo, 16);
  const e2 = negExp4(x2, mode);
  const l2 = farNegativeLane4(x2, e2, f32x4.div(one, f32x4.add(one, e2)), c, pg, pe, beta, mode, lo, 32);
  const e3 = negExp4(x3, mode);
  const l3 = farNegativeLane4(x3, e3, f32x4.div(one, f32x4.add(one, e3)), c, pg, pe, beta, mode, lo, 48);
  if (pgz) {
    const zero = f32x4.splat(0);
    v128.store(pgz, zero); v128.store(pgz, zero, 16); v128.store(pgz, zero, 32); v128.store(pgz, zero, 48);
  }
  return f32x4.add(f32x4.add(l0, l1), f32x4.add(l2, l3));
}

// @ts-ignore: decorator
@inline function farNegativeLane4(
  x: v128, e: v128, r: v128, c: v128, pg: usize, pe: usize, beta: f32, mode: i32, lo: v128, at: usize,
): v128 {
  let q = f32x4.splat(-1.0 / 8.0);
  q = f32x4.add(f32x4.mul(q, e), f32x4.splat(1.0 / 7.0));
  q = f32x4.add(f32x4.mul(q, e), f32x4.splat(-1.0 / 6.0));
  q = f32x4.add(f32x4.mul(q, e), f32x4.splat(1.0 / 5.0));
  q = f32x4.add(f32x4.mul(q, e), f32x4.splat(-1.0 / 4.0));
  q = f32x4.add(f32x4.mul(q, e), f32x4.splat(1.0 / 3.0));
  q = f32x4.add(f32x4.mul(q, e), f32x4.splat(-0.5));
  q = f32x4.add(f32x4.mul(q, e), f32x4.splat(1.0));
  const sp = f32x4.mul(e, q);
  const sig = flushSigmoid4(f32x4.mul(e, r), x, lo, mode);
  const p = pow4(sig, beta, mode);
  const loss = f32x4.mul(sp, p);
  if (pg) {
    const g = negativeGrad4(p, sig, r, sp, beta, mode);
    v128.store(pg + at, f32x4.mul(c, g));
  }
  if (pe) v128.store(pe + at, loss);
  return loss;
}

/**
 * e^(−|x|): for β = 2 and β = 0 the cheaper exp floored at 2^−126 gives the same float32 results (see
 * expNonPositive4); other β keep the exact one, whose subnormals matter to σ^β for β < 1.
 */
// @ts-ignore: decorator
@inline function negExp4(x: v128, mode: i32): v128 {
  const a = negAbs4(x);
  return mode == MODE_TWO || mode == MODE_ZERO ? expNonPositive4(a) : exp4(a);
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

/** Loss and gradient of one vector of negatives from its shared transcendentals; stores at byte offset `at`. */
// @ts-ignore: decorator
@inline function negativeLane4(
  x: v128, e: v128, r: v128, sp: v128, c: v128, pg: usize, pe: usize, beta: f32, mode: i32, zero: v128, lo: v128, at: usize,
): v128 {
  const er = f32x4.mul(e, r);
  const nonneg = f32x4.ge(x, zero);
  const sig = flushSigmoid4(v128.bitselect(r, er, nonneg), x, lo, mode);
  const p = pow4(sig, beta, mode);
  const loss = f32x4.mul(sp, p);
  if (pg) {
    const oms = v128.bitselect(er, r, nonneg);
    const g = negativeGrad4(p, sig, oms, sp, beta, mode);
    v128.store(pg + at, f32x4.mul(c, g));
  }
  if (pe) v128.store(pe + at, loss);
  return loss;
}

// ---------------------------------------------------------------------------------------------
// row loops

// @ts-ignore: decorator
@inline function qflRows(
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
      if (t >= 0 && t < cols) {
        y = load<f32>(score + (<usize>i << 2));
      } else t = -1;
    }
    let rowSum: f32 = 0;
    if (ASC_FEATURE_SIMD) {
      let acc = f32x4.splat(0);
      const cv = f32x4.splat(c);
      for (let j = 0; j < cols; j += 4) {
        const off = rowOff + (<usize>j << 2);
        if (j + 16 <= cols) {
          // four vectors at once when none of them holds a positive
          let quiet: bool;
          if (dense) {
            const q = target + off;
            const z = f32x4.splat(0); // compare as floats: a target of −0 is a negative, as upstream's `target != 0`
            quiet = !v128.any_true(v128.or(
              v128.or(f32x4.ne(v128.load(q), z), f32x4.ne(v128.load(q, 16), z)),
              v128.or(f32x4.ne(v128.load(q, 32), z), f32x4.ne(v128.load(q, 48), z)),
            ));
          } else quiet = t < j || t >= j + 16;
          if (quiet) {
            acc = f32x4.add(acc, negativeQuad4(
              pred + off, cv, gradPred ? gradPred + off : 0, elemLoss ? elemLoss + off : 0,
              gradTarget && dense ? gradTarget + off : 0, beta, mode,
            ));
            j += 12;
            continue;
          }
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
