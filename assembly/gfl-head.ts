// The positives of a dense detection head, fused: Integral → decode → box loss → DFL, with the gradient chained back
// through the decode and the Integral's vector–Jacobian product into the box-distribution logits, in one pass per
// positive. Two heads share the per-side pieces here:
//   mmdetection v3.1 GFLHead.loss_by_feat (gflHeadPositives: GIoU, eps 1e-6 via max; DFL targets clamped to
//     [0, bins − 1 − 0.1]; IoU target = bbox_overlaps of the decoded box, returned for the QFL pass)
//   ultralytics 8.3 v8DetectionLoss (yoloV8Positives in yolo.ts: CIoU; DFL targets clamped to [0, bins − 1 − 0.01],
//     wr = 1 − wl)
// The classification pass (QFL / BCE over every logit) is the QFL kernel, run separately by the caller.
//
// Inputs are compact, one row per positive, so this pass touches nothing but the positives (at b8, 3,360 rows of 68
// logits instead of 67,200): gathered by the caller, or by gflHeadGather when the dense arrays already live in gfloss
// memory. Outputs are compact; the caller scatters them.
// Per positive k, with the row's side logits z_s (s = left, top, right, bottom), p_s = softmax(z_s), ŷ_s = Σ_j j·p_sj:
//   decoded box = (cx − ŷ_l, cy − ŷ_t, cx + ŷ_r, cy + ŷ_b)
//   ∂/∂z_sj = cD·((wl + wr)·p_sj − wl·[j = l] − wr·[j = r]) + gŷ_s·p_sj·(j − ŷ_s)
// where cD is the DFL coefficient of the row and gŷ_s the box-loss gradient of the decoded coordinate, signed by
// the decode (−, −, +, +). ŷ, the sums and j − ŷ are float64, as in integral.ts: a peaked distribution puts ŷ within
// a few ulp of a bin, and float32 cancellation in j − ŷ would cost the gradient its digits.
//
// `scratch` holds 8 f64 per positive (ŷ and logsumexp of each side); it is row-indexed so that blocks of rows can run
// on different threads without sharing it.

import { exp1, exp4, sigmoid1, logPositive1, maxShare, minShare } from "./math";
import { rowMax, rowMax4 } from "./softmax";
import { giouBox, BOX_IOU, BOX_GRAD_PRED } from "./giou";

/**
 * Softmax of one side's `bins` logits at z: writes the normalised probabilities to p, and ŷ and logsumexp(z) to
 * the f64 slots sy and sl. The scalar tier's form (and both tiers' without a gradient buffer, sideSoftmaxInto); the
 * SIMD tier runs the four sides of a positive together, four bins per step (sidesSoftmax).
 */
// @ts-ignore: decorator
@inline function sideSoftmax(z: usize, p: usize, bins: i32, sy: usize, sl: usize): void {
  const m = rowMax(z, bins);
  let s: f64 = 0, d: f64 = 0;
  for (let j = 0; j < bins; j++) {
    const e = exp1(load<f32>(z + (<usize>j << 2)) - m);
    store<f32>(p + (<usize>j << 2), e);
    s += <f64>e;
    d += <f64>j * <f64>e;
  }
  const inv = 1.0 / s;
  for (let j = 0; j < bins; j++) {
    const q = p + (<usize>j << 2);
    store<f32>(q, <f32>(<f64>load<f32>(q) * inv));
  }
  store<f64>(sy, d / s);
  store<f64>(sl, <f64>(m + logPositive1(<f32>s)));
}

/**
 * DFL of one side for target t (already clamped by the caller) from its logits z and logsumexp lse;
 * `ultra` selects wr = 1 − wl (ultralytics DFLoss) instead of wr = t − l (mmdetection).
 */
// @ts-ignore: decorator
@inline export function sideDfl(z: usize, lse: f32, t: f32, ultra: bool): f32 {
  const l = <i32>t;
  const wl = <f32>(l + 1) - t;
  const wr: f32 = ultra ? <f32>1.0 - wl : t - <f32>l;
  return wl * (lse - load<f32>(z + (<usize>l << 2))) + wr * (lse - load<f32>(z + (<usize>(l + 1) << 2)));
}

/**
 * Turns the probabilities p of one side (in place) into its gradient: DFL with coefficient cD toward target t, plus
 * the Integral VJP of the upstream gradient gy of ŷ. Per bin, in float64: p_j·(a + gy·(j − ŷ)); the SIMD tier two
 * bins per f64x2, four per load and store.
 */
// @ts-ignore: decorator
@inline export function sideGrad(p: usize, bins: i32, t: f32, ultra: bool, cD: f32, gy: f64, yhat: f64): void {
  const l = <i32>t;
  const wl = <f32>(l + 1) - t;
  const wr: f32 = ultra ? <f32>1.0 - wl : t - <f32>l;
  const a = <f64>(cD * (wl + wr));
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const av = f64x2.splat(a), gv = f64x2.splat(gy), four = f64x2.splat(4);
    // j − ŷ for the low and high pairs, advanced by 4 per step (exact: small integers minus ŷ, as the scalar form)
    let jlo = f64x2(0, 1), jhi = f64x2(2, 3);
    const yv = f64x2.splat(yhat);
    for (; j + 4 <= bins; j += 4) {
      const q = p + (<usize>j << 2);
      const v = v128.load(q);
      const glo = f64x2.mul(lowPair(v), f64x2.add(av, f64x2.mul(gv, f64x2.sub(jlo, yv))));
      const ghi = f64x2.mul(highPair(v), f64x2.add(av, f64x2.mul(gv, f64x2.sub(jhi, yv))));
      v128.store(q, v128.shuffle<i64>(f32x4.demote_f64x2_zero(glo), f32x4.demote_f64x2_zero(ghi), 0, 2));
      jlo = f64x2.add(jlo, four); jhi = f64x2.add(jhi, four);
    }
  }
  for (; j < bins; j++) {
    const q = p + (<usize>j << 2);
    store<f32>(q, <f32>(<f64>load<f32>(q) * (a + gy * (<f64>j - yhat))));
  }
  const ql = p + (<usize>l << 2);
  store<f32>(ql, load<f32>(ql) - cD * wl);
  store<f32>(ql, load<f32>(ql, 4) - cD * wr, 4);
}

/**
 * The four sides of one positive (rows of `bins` logits at zp, zp + bins, …): softmax into the four gradient rows at
 * gp (0: not wanted), ŷ into the f64 slots sc[0…3], and Σ over the sides of DFL toward targets cp[0…3] (returned);
 * sc[4…7] are scratch. With a gradient buffer the SIMD tier runs the four sides stage by stage (their maxima, then
 * each block of four bins of all four sides, then their sums' tails, …): one side's softmax is a chain of dependent
 * steps (max → exp → sums → 1/s → log), and four independent chains side by side let the CPU overlap them where one
 * side after the other waited on each.
 * Per side: four bins per exp4, float64 sums two lanes at a time on the promoted values, the bins past the last
 * multiple of four one at a time; measured against the former one-side-at-a-time form, the same bits and 10 % less
 * time for the whole positives pass (in cache, 3,360 positives).
 */
// @ts-ignore: decorator
@inline export function sidesSoftmax(zp: usize, gp: usize, bins: i32, sc: usize, cp: usize, ultra: bool): f32 {
  const rb = <usize>bins << 2;
  if (!ASC_FEATURE_SIMD || !gp) {
    let dfl: f32 = 0;
    for (let sd = 0; sd < 4; sd++) {
      const z = zp + <usize>sd * rb;
      sideSoftmaxInto(z, gp ? gp + <usize>sd * rb : 0, bins, sc + (<usize>sd << 3), sc + (<usize>(sd + 4) << 3));
      dfl += sideDfl(z, <f32>load<f64>(sc + (<usize>(sd + 4) << 3)), load<f32>(cp + (<usize>sd << 2)), ultra);
    }
    return dfl;
  }
  const z0 = zp, z1 = zp + rb, z2 = zp + 2 * rb, z3 = zp + 3 * rb;
  const p0 = gp, p1 = gp + rb, p2 = gp + 2 * rb, p3 = gp + 3 * rb;
  const m0 = rowMax(z0, bins), m1 = rowMax(z1, bins), m2 = rowMax(z2, bins), m3 = rowMax(z3, bins);
  const v0 = f32x4.splat(m0), v1 = f32x4.splat(m1), v2 = f32x4.splat(m2), v3 = f32x4.splat(m3);
  let s0 = f64x2.splat(0), s1 = f64x2.splat(0), s2 = f64x2.splat(0), s3 = f64x2.splat(0);
  let d0 = f64x2.splat(0), d1 = f64x2.splat(0), d2 = f64x2.splat(0), d3 = f64x2.splat(0);
  let jlo = f64x2(0, 1), jhi = f64x2(2, 3);
  const four = f64x2.splat(4);
  let j = 0;
  for (; j + 4 <= bins; j += 4) {
    const o = <usize>j << 2;
    const e0 = exp4(f32x4.sub(v128.load(z0 + o), v0)), e1 = exp4(f32x4.sub(v128.load(z1 + o), v1));
    const e2 = exp4(f32x4.sub(v128.load(z2 + o), v2)), e3 = exp4(f32x4.sub(v128.load(z3 + o), v3));
    v128.store(p0 + o, e0); v128.store(p1 + o, e1); v128.store(p2 + o, e2); v128.store(p3 + o, e3);
    const a0 = lowPair(e0), a1 = lowPair(e1), a2 = lowPair(e2), a3 = lowPair(e3);
    const b0 = highPair(e0), b1 = highPair(e1), b2 = highPair(e2), b3 = highPair(e3);
    s0 = f64x2.add(s0, f64x2.add(a0, b0)); s1 = f64x2.add(s1, f64x2.add(a1, b1));
    s2 = f64x2.add(s2, f64x2.add(a2, b2)); s3 = f64x2.add(s3, f64x2.add(a3, b3));
    d0 = moment(d0, a0, b0, jlo, jhi); d1 = moment(d1, a1, b1, jlo, jhi);
    d2 = moment(d2, a2, b2, jlo, jhi); d3 = moment(d3, a3, b3, jlo, jhi);
    jlo = f64x2.add(jlo, four); jhi = f64x2.add(jhi, four);
  }
  let t0 = lanes(s0), t1 = lanes(s1), t2 = lanes(s2), t3 = lanes(s3);
  let u0 = lanes(d0), u1 = lanes(d1), u2 = lanes(d2), u3 = lanes(d3);
  for (let k = j; k < bins; k++) {
    const o = <usize>k << 2, jk = <f64>k;
    const e0 = exp1(load<f32>(z0 + o) - m0), e1 = exp1(load<f32>(z1 + o) - m1);
    const e2 = exp1(load<f32>(z2 + o) - m2), e3 = exp1(load<f32>(z3 + o) - m3);
    store<f32>(p0 + o, e0); store<f32>(p1 + o, e1); store<f32>(p2 + o, e2); store<f32>(p3 + o, e3);
    t0 += <f64>e0; t1 += <f64>e1; t2 += <f64>e2; t3 += <f64>e3;
    u0 += jk * <f64>e0; u1 += jk * <f64>e1; u2 += jk * <f64>e2; u3 += jk * <f64>e3;
  }
  const i0 = f64x2.splat(1.0 / t0), i1 = f64x2.splat(1.0 / t1), i2 = f64x2.splat(1.0 / t2), i3 = f64x2.splat(1.0 / t3);
  j = 0;
  for (; j + 4 <= bins; j += 4) {
    const o = <usize>j << 2;
    normalise4(p0 + o, i0); normalise4(p1 + o, i1); normalise4(p2 + o, i2); normalise4(p3 + o, i3);
  }
  for (let k = j; k < bins; k++) {
    const o = <usize>k << 2;
    store<f32>(p0 + o, <f32>(<f64>load<f32>(p0 + o) * f64x2.extract_lane(i0, 0)));
    store<f32>(p1 + o, <f32>(<f64>load<f32>(p1 + o) * f64x2.extract_lane(i1, 0)));
    store<f32>(p2 + o, <f32>(<f64>load<f32>(p2 + o) * f64x2.extract_lane(i2, 0)));
    store<f32>(p3 + o, <f32>(<f64>load<f32>(p3 + o) * f64x2.extract_lane(i3, 0)));
  }
  store<f64>(sc, u0 / t0); store<f64>(sc, u1 / t1, 8); store<f64>(sc, u2 / t2, 16); store<f64>(sc, u3 / t3, 24);
  const l0 = m0 + logPositive1(<f32>t0), l1 = m1 + logPositive1(<f32>t1);
  const l2 = m2 + logPositive1(<f32>t2), l3 = m3 + logPositive1(<f32>t3);
  let dfl: f32 = 0;
  dfl += sideDfl(z0, l0, load<f32>(cp), ultra);
  dfl += sideDfl(z1, l1, load<f32>(cp, 4), ultra);
  dfl += sideDfl(z2, l2, load<f32>(cp, 8), ultra);
  dfl += sideDfl(z3, l3, load<f32>(cp, 12), ultra);
  return dfl;
}

/** Lanes 0 and 1 of four floats, as float64. */
// @ts-ignore: decorator
@inline function lowPair(e: v128): v128 {
  return f64x2.promote_low_f32x4(e);
}

/** Lanes 2 and 3 of four floats, as float64. */
// @ts-ignore: decorator
@inline function highPair(e: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<i64>(e, e, 1, 1));
}

/** d + (jlo·lo + jhi·hi): the running Σ j·e_j, two bins per lane. */
// @ts-ignore: decorator
@inline function moment(d: v128, lo: v128, hi: v128, jlo: v128, jhi: v128): v128 {
  return f64x2.add(d, f64x2.add(f64x2.mul(jlo, lo), f64x2.mul(jhi, hi)));
}

/** lane 0 + lane 1. */
// @ts-ignore: decorator
@inline function lanes(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

/** The four floats at q times iv (f64, both lanes the same), rounded back to float32 in place. */
// @ts-ignore: decorator
@inline function normalise4(q: usize, iv: v128): void {
  const e = v128.load(q);
  const lo = f32x4.demote_f64x2_zero(f64x2.mul(lowPair(e), iv));
  const hi = f32x4.demote_f64x2_zero(f64x2.mul(highPair(e), iv));
  v128.store(q, v128.shuffle<i64>(lo, hi, 0, 2));
}

/** Four rows of `bytes` (a multiple of 4) from s0…s3 to consecutive rows at d, their loads side by side. */
// @ts-ignore: decorator
@inline function copyRows4(d: usize, bytes: usize, s0: usize, s1: usize, s2: usize, s3: usize): void {
  const d1 = d + bytes, d2 = d1 + bytes, d3 = d2 + bytes;
  let o: usize = 0;
  for (; o + 16 <= bytes; o += 16) {
    const a0 = v128.load(s0 + o), a1 = v128.load(s1 + o), a2 = v128.load(s2 + o), a3 = v128.load(s3 + o);
    v128.store(d + o, a0); v128.store(d1 + o, a1); v128.store(d2 + o, a2); v128.store(d3 + o, a3);
  }
  for (; o < bytes; o += 4) {
    store<f32>(d + o, load<f32>(s0 + o)); store<f32>(d1 + o, load<f32>(s1 + o));
    store<f32>(d2 + o, load<f32>(s2 + o)); store<f32>(d3 + o, load<f32>(s3 + o));
  }
}

/**
 * The positives' inputs that come from the large dense arrays, in one pass over the positives (rows picked out of
 * tens of megabytes are cache and TLB misses, so each is visited once):
 * - GFL quality weights w_k = max_c sigmoid(cls[k, c]) (detached in mmdetection), taken as sigmoid of the row max
 *   since sigmoid is monotone. With `clsDense`, row k of `cls` (cols wide) is the positive's row index[k] (the dense
 *   logits, read in place); otherwise row k (the positives' rows, gathered by the caller).
 * - with `predDst` not 0, the box logits row index[k] of the dense `predSrc` (predWidth floats) copied to row k of
 *   predDst (compact rows for gflHeadPositives).
 * Returns Σ w.
 */
export function gflHeadGather(
  index: usize, cls: usize, clsDense: i32, w: usize, rows: i32, cols: i32, predSrc: usize, predDst: usize, predWidth: i32,
): f64 {
  let total: f64 = 0;
  const rowBytes = <usize>cols << 2, predBytes = <usize>predWidth << 2;
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    // four positives at a time, their rows' loads side by side (rowMax4, copyRows4): each row is a cache and TLB miss,
    // and four in flight together took the pass at b8 from 0.80 to 0.66 ms (one thread, cold cache)
    for (; k + 4 <= rows; k += 4) {
      const at = index + (<usize>k << 2), kk = <usize>k;
      const i0 = <usize>load<i32>(at), i1 = <usize>load<i32>(at, 4), i2 = <usize>load<i32>(at, 8), i3 = <usize>load<i32>(at, 12);
      const m = clsDense
        ? rowMax4(cls + i0 * rowBytes, cls + i1 * rowBytes, cls + i2 * rowBytes, cls + i3 * rowBytes, cols)
        : rowMax4(cls + kk * rowBytes, cls + (kk + 1) * rowBytes, cls + (kk + 2) * rowBytes, cls + (kk + 3) * rowBytes, cols);
      if (predDst) {
        copyRows4(predDst + kk * predBytes, predBytes,
          predSrc + i0 * predBytes, predSrc + i1 * predBytes, predSrc + i2 * predBytes, predSrc + i3 * predBytes);
      }
      const w0 = sigmoid1(f32x4.extract_lane(m, 0)), w1 = sigmoid1(f32x4.extract_lane(m, 1));
      const w2 = sigmoid1(f32x4.extract_lane(m, 2)), w3 = sigmoid1(f32x4.extract_lane(m, 3));
      const wp = w + (kk << 2);
      store<f32>(wp, w0); store<f32>(wp, w1, 4); store<f32>(wp, w2, 8); store<f32>(wp, w3, 12);
      total += <f64>w0; total += <f64>w1; total += <f64>w2; total += <f64>w3;
    }
  }
  for (; k < rows; k++) {
    const row = <usize>load<i32>(index + (<usize>k << 2));
    const v = sigmoid1(rowMax(cls + (clsDense ? row : <usize>k) * rowBytes, cols));
    store<f32>(w + (<usize>k << 2), v);
    total += <f64>v;
    if (predDst) memory.copy(predDst + <usize>k * predBytes, predSrc + row * predBytes, predBytes);
  }
  return total;
}

/**
 * mmdetection GFLHead positives. Per positive k (compact rows):
 *   pred (4·bins logits), anchor (xyxy pixels), stride, target (xyxy pixels), w (quality weight)
 * Writes grad (4·bins), predBox and targetBox (stride units), corners (DFL targets), iou (the QFL score target),
 * boxLoss = w·(1 − GIoU) and dflLoss = w·Σ_sides DFL (unscaled), and returns Σ boxCoef·boxLoss + dflCoef·dflLoss.
 * boxCoef and dflCoef carry λ, avg_factor and the bbox normaliser; the gradient is that of the returned sum.
 * iou, boxLoss, dflLoss and grad may be 0 (not wanted); predBox, targetBox, corners and scratch are always written.
 */
export function gflHeadPositives(
  pred: usize, anchor: usize, stride: usize, target: usize, w: usize,
  grad: usize, predBox: usize, targetBox: usize, corners: usize, iouOut: usize, boxLoss: usize, dflLoss: usize,
  scratch: usize, rows: i32, bins: i32, boxCoef: f32, dflCoef: f32, eps: f32,
): f64 {
  const dmax = <f32>(<f64>(bins - 1) - 0.1);
  const rowBytes = <usize>(bins << 2);
  let total: f64 = 0;
  for (let k = 0; k < rows; k++) {
    const ko = <usize>k;
    const zp = pred + ko * (rowBytes << 2);
    const gp = grad ? grad + ko * (rowBytes << 2) : 0;
    const sc = scratch + (ko << 6);
    const s = load<f32>(stride + (ko << 2));
    const wk = load<f32>(w + (ko << 2));
    const ap = anchor + (ko << 4), tp = target + (ko << 4);
    // anchor_center(anchors) / stride and bbox_targets / stride, in float32 as upstream
    const cx = (load<f32>(ap, 8) + load<f32>(ap)) / 2.0 / s;
    const cy = (load<f32>(ap, 12) + load<f32>(ap, 4)) / 2.0 / s;
    const tx1 = load<f32>(tp) / s, ty1 = load<f32>(tp, 4) / s, tx2 = load<f32>(tp, 8) / s, ty2 = load<f32>(tp, 12) / s;
    const tb = targetBox + (ko << 4);
    store<f32>(tb, tx1); store<f32>(tb, ty1, 4); store<f32>(tb, tx2, 8); store<f32>(tb, ty2, 12);
    // bbox2distance, clamped to [0, reg_max − 0.1]
    const cp = corners + (ko << 4);
    store<f32>(cp, clampTo(cx - tx1, dmax)); store<f32>(cp, clampTo(cy - ty1, dmax), 4);
    store<f32>(cp, clampTo(tx2 - cx, dmax), 8); store<f32>(cp, clampTo(ty2 - cy, dmax), 12);

    // Integral per side (the probabilities are kept in the gradient row, which sideGrad turns into the gradient) and DFL
    const dfl = sidesSoftmax(zp, gp, bins, sc, cp, false);
    const yl = load<f64>(sc), yt = load<f64>(sc, 8), yr = load<f64>(sc, 16), yb = load<f64>(sc, 24);
    const px1 = cx - <f32>yl, py1 = cy - <f32>yt, px2 = cx + <f32>yr, py2 = cy + <f32>yb;
    const pb = predBox + (ko << 4);
    store<f32>(pb, px1); store<f32>(pb, py1, 4); store<f32>(pb, px2, 8); store<f32>(pb, py2, 12);

    // GIoU (bbox_overlaps, mode 'giou', eps via max) and its gradient for the pred box, by giou.ts's giouBox; the
    // logsumexp slots of the scratch row (sc + 32 …) are free once the DFL is summed
    const bo = sc + 32;
    const bl: f32 = wk * giouBox(px1, py1, px2, py2, tx1, ty1, tx2, ty2, eps, false, boxCoef * wk, gp != 0, false, bo);
    const dl: f32 = wk * dfl;
    if (iouOut) store<f32>(iouOut + (ko << 2), load<f32>(bo + BOX_IOU));
    if (boxLoss) store<f32>(boxLoss + (ko << 2), bl);
    if (dflLoss) store<f32>(dflLoss + (ko << 2), dl);
    total += <f64>boxCoef * <f64>bl + <f64>dflCoef * <f64>dl;
    if (!gp) continue;

    const gx1 = load<f32>(bo + BOX_GRAD_PRED), gy1 = load<f32>(bo + BOX_GRAD_PRED, 4);
    const gx2 = load<f32>(bo + BOX_GRAD_PRED, 8), gy2 = load<f32>(bo + BOX_GRAD_PRED, 12);
    // distance2bbox: x1 = cx − l, y1 = cy − t, x2 = cx + r, y2 = cy + b
    const cD = dflCoef * wk;
    sideGrad(gp, bins, load<f32>(cp), false, cD, -<f64>gx1, yl);
    sideGrad(gp + rowBytes, bins, load<f32>(cp, 4), false, cD, -<f64>gy1, yt);
    sideGrad(gp + 2 * rowBytes, bins, load<f32>(cp, 8), false, cD, <f64>gx2, yr);
    sideGrad(gp + 3 * rowBytes, bins, load<f32>(cp, 12), false, cD, <f64>gy2, yb);
  }
  return total;
}

/** sideSoftmax into p; without a gradient buffer (p = 0) only ŷ and lse are kept (same formulas, scalar exp). */
// @ts-ignore: decorator
@inline export function sideSoftmaxInto(z: usize, p: usize, bins: i32, sy: usize, sl: usize): void {
  if (p) { sideSoftmax(z, p, bins, sy, sl); return; }
  const m = rowMax(z, bins);
  let s: f64 = 0, d: f64 = 0;
  for (let j = 0; j < bins; j++) {
    const v = <f64>exp1(load<f32>(z + (<usize>j << 2)) - m);
    s += v;
    d += <f64>j * v;
  }
  store<f64>(sy, d / s);
  store<f64>(sl, <f64>(m + logPositive1(<f32>s)));
}

// @ts-ignore: decorator
@inline function clampTo(v: f32, hi: f32): f32 {
  return v < 0 ? 0 : v > hi ? hi : v;
}
