// Task-aligned assignment (ultralytics 8.3 `TaskAlignedAssigner`, topk 10, α 0.5, β 6, eps 1e-9) for one image,
// float32 as upstream:
//   in_gts(m, a) = min(ax − x1, ay − y1, x2 − ax, y2 − ay) > 1e-9f;
//   overlaps(m, a) = max(CIoU(gt m, pred a), 0) where in_gts and the gt is real (mask_gt), else 0;
//   align(m, a) = score(a, label m)^α · overlaps^β;
//   per real gt the topk largest align values over all anchors (ties: lower anchor index; torch.topk leaves exact
//   ties to libstdc++), positive where also in_gts;
//   an anchor positive for several gts goes to argmax over all gts of overlaps (first index on ties);
//   target_gt_idx = the gt of a positive, 0 for background (so background rows carry gt 0's label and box);
//   norm(a) = max_m align·pos · max_a'(overlaps·pos) / (max_a'(align·pos) + eps); target_scores = one_hot · norm.

const FOUR_OVER_PI2: f32 = 0.40528473456935108577551785283891; // 4/π², as torch rounds the Python float
const CIOU_EPS: f32 = 1e-7;

import { atan1, powPos1 } from "./math";

// @ts-ignore: decorator
@inline function atanf(x: f32): f32 {
  return atan1(x); // Cephes atanf, ≤ 2 ulp, table-free
}

/**
 * bbox_iou(box1 = gt, box2 = pred, xywh=False, CIoU=True), ultralytics' order of operations. The gt's own terms
 * (w1, h1 and atan(w1/h1)) come from the caller, computed once per gt instead of once per anchor.
 */
// @ts-ignore: decorator
@inline function ciouGtPred(
  b1x1: f32, b1y1: f32, b1x2: f32, b1y2: f32, w1: f32, h1: f32, atan1h1: f32, b2: usize,
): f32 {
  const b2x1 = load<f32>(b2), b2y1 = load<f32>(b2, 4), b2x2 = load<f32>(b2, 8), b2y2 = load<f32>(b2, 12);
  const w2 = b2x2 - b2x1, h2 = b2y2 - b2y1 + CIOU_EPS;
  const ix0 = min(b1x2, b2x2) - max(b1x1, b2x1), iy0 = min(b1y2, b2y2) - max(b1y1, b2y1);
  const inter = (ix0 > 0 ? ix0 : <f32>0) * (iy0 > 0 ? iy0 : <f32>0);
  const union = w1 * h1 + w2 * h2 - inter + CIOU_EPS;
  const iou = inter / union;
  const cw = max(b1x2, b2x2) - min(b1x1, b2x1), ch = max(b1y2, b2y2) - min(b1y1, b2y1);
  const c2 = cw * cw + ch * ch + CIOU_EPS;
  const sx = b2x1 + b2x2 - b1x1 - b1x2, sy = b2y1 + b2y2 - b1y1 - b1y2;
  const rho2 = (sx * sx + sy * sy) / <f32>4.0;
  const da = atanf(w2 / h2) - atan1h1;
  const v = FOUR_OVER_PI2 * (da * da);
  const alpha = v / (v - iou + (<f32>1.0 + CIOU_EPS));
  return iou - (rho2 / c2 + v * alpha);
}

// @ts-ignore: decorator
@inline function powf(x: f32, p: f32): f32 {
  if (p == 0.5) return Mathf.sqrt(x); // torch's pow special-cases 0.5 as sqrt
  if (p == 1) return x;
  if (p == 2) return x * x;
  if (p == <f32><i32>p && p > 0 && p <= 64) {
    // integer β (6 in TAL): the product in float64 rounded once, i.e. correctly rounded as glibc's powf nearly always is
    let r: f64 = 1;
    const b = <f64>x;
    for (let i = 0, n = <i32>p; i < n; i++) r *= b;
    return <f32>r;
  }
  return powPos1(x, p);
}

/**
 * Bytes of talAssign's scratch per image: the m×a matrices (row = gt) overlaps and align (f32), inGts, posBefore and
 * pos (u8), then top (topk i32), topV (topk f32), the gts' lists of positives (m·topk i32) and room for the anchors
 * that the one-gt-per-anchor rule resolves by the argmax (anchors listed by two gts or more: at most m·topk/2).
 */
// @ts-ignore: decorator
@inline function scratchBytes(a: i32, m: i32, topk: i32): usize {
  return (<usize>m * <usize>a * 11 + <usize>topk * 8 + <usize>m * <usize>topk * 8 + 15) & ~<usize>15;
}

/**
 * `rows` images, one after the other (a block of images on the thread pool). Per image: scores a×nc
 * (probabilities), pred a×4 xyxy, labels m i32 (class per gt), gts m×4, maskGt m i32 (1 real gt, 0 padding); points
 * a×2 (pixels) shared. Outputs per image: targetLabels, targetGtIdx, fg (a i32), targetBoxes a×4, norm a (f32); the
 * dense target scores (one_hot(label)·norm on the foreground, a×nc nearly all zero) are left to the caller.
 * `scratch`: scratchBytes(a, m, topk), laid out there and reused by each image in turn (so a batch needs one per
 * concurrent block, not one per image). Returns the number of foreground anchors.
 */
export function talAssign(
  scores: usize, pred: usize, points: usize, labels: usize, gts: usize, maskGt: usize, a: i32, m: i32, nc: i32,
  topk: i32, alpha: f32, beta: f32, eps: f32, scratch: usize,
  targetLabels: usize, targetGtIdx: usize, fg: usize, targetBoxes: usize, norm: usize, rows: i32,
): f64 {
  let total: f64 = 0;
  const ma = <usize>m * <usize>a, ua = <usize>a;
  for (let r = 0; r < rows; r++) {
    const ri = <usize>r, sc = scratch;
    total += <f64>talImage(
      scores + ri * ua * <usize>nc * 4, pred + ri * ua * 16, points, labels + ri * <usize>m * 4, gts + ri * <usize>m * 16,
      maskGt + ri * <usize>m * 4, a, m, nc, topk, alpha, beta, eps,
      sc, sc + ma * 4, sc + ma * 8, sc + ma * 9, sc + ma * 10, sc + ma * 11, sc + ma * 11 + <usize>topk * 4,
      sc + ma * 11 + <usize>topk * 8,
      targetLabels + ri * ua * 4, targetGtIdx + ri * ua * 4, fg + ri * ua * 4, targetBoxes + ri * ua * 16,
      norm + ri * ua * 4,
    );
  }
  return total;
}

/**
 * One image (see talAssign). `lists`: m·topk i32, each real gt's positives before the one-gt-per-anchor rule, then
 * room for the (winning gt, anchor) of every anchor that rule resolves by the argmax.
 */
function talImage(
  scores: usize, pred: usize, points: usize, labels: usize, gts: usize, maskGt: usize, a: i32, m: i32, nc: i32,
  topk: i32, alpha: f32, beta: f32, eps: f32,
  overlaps: usize, align: usize, inGts: usize, posBefore: usize, pos: usize, top: usize, topV: usize, lists: usize,
  targetLabels: usize, targetGtIdx: usize, fg: usize, targetBoxes: usize, norm: usize,
): i32 {
  const zeroMetric = powf(0, alpha) * powf(0, beta);
  const k = min(topk, a);
  for (let j = 0; j < m; j++) {
    const g = gts + (<usize>j << 4);
    const gx1 = load<f32>(g), gy1 = load<f32>(g, 4), gx2 = load<f32>(g, 8), gy2 = load<f32>(g, 12);
    const real = load<i32>(maskGt + (<usize>j << 2)) != 0;
    const label = load<i32>(labels + (<usize>j << 2));
    const gw = gx2 - gx1, gh = gy2 - gy1 + CIOU_EPS, gAtan = atanf(gw / gh);
    const row = <usize>j * <usize>a;
    for (let i = 0; i < a; i++) {
      if (ASC_FEATURE_SIMD && (i & 3) == 0 && i + 4 <= a) {
        // four anchor points at a time while none lies inside the gt: their rows are zeros (and the zero metric)
        const v0 = v128.load(points + (<usize>i << 3)), v1 = v128.load(points + (<usize>i << 3), 16);
        const px = v128.shuffle<f32>(v0, v1, 0, 2, 4, 6), py = v128.shuffle<f32>(v0, v1, 1, 3, 5, 7);
        const d = f32x4.min(
          f32x4.min(f32x4.sub(px, f32x4.splat(gx1)), f32x4.sub(py, f32x4.splat(gy1))),
          f32x4.min(f32x4.sub(f32x4.splat(gx2), px), f32x4.sub(f32x4.splat(gy2), py)),
        );
        if (!v128.any_true(f32x4.gt(d, f32x4.splat(<f32>1e-9)))) {
          store<i32>(inGts + row + <usize>i, 0);
          v128.store(overlaps + ((row + <usize>i) << 2), f32x4.splat(0));
          v128.store(align + ((row + <usize>i) << 2), f32x4.splat(zeroMetric));
          i += 3;
          continue;
        }
      }
      const px = load<f32>(points + (<usize>i << 3)), py = load<f32>(points + (<usize>i << 3), 4);
      const d = min(min(px - gx1, py - gy1), min(gx2 - px, gy2 - py));
      const inside = d > <f32>1e-9;
      store<u8>(inGts + row + <usize>i, inside ? 1 : 0);
      let ov: f32 = 0, metric = zeroMetric;
      if (inside && real) {
        const c = ciouGtPred(gx1, gy1, gx2, gy2, gw, gh, gAtan, pred + (<usize>i << 4));
        ov = c > 0 ? c : 0; // clamp_(0); NaN stays NaN in torch's clamp, and here
        if (c != c) ov = c;
        metric = powf(load<f32>(scores + ((<usize>i * <usize>nc + <usize>label) << 2)), alpha) * powf(ov, beta);
      }
      store<f32>(overlaps + ((row + <usize>i) << 2), ov);
      store<f32>(align + ((row + <usize>i) << 2), metric);
    }
    memory.fill(posBefore + row, 0, <usize>a);
    const list = lists + (<usize>(j * topk) << 2);
    store<i32>(list, -1); // empty unless filled below
    if (!real) continue; // padding gts select nothing (upstream zeroes their topk indices and drops the repeats)
    // topk largest metrics, kept sorted (value descending, then index) by insertion
    let have = 0;
    for (let i = 0; i < a; i++) {
      const v = load<f32>(align + ((row + <usize>i) << 2));
      if (have == k && !(v > load<f32>(topV + (<usize>(k - 1) << 2)))) continue;
      let p = have < k ? have : k - 1;
      while (p > 0 && load<f32>(topV + (<usize>(p - 1) << 2)) < v) {
        store<f32>(topV + (<usize>p << 2), load<f32>(topV + (<usize>(p - 1) << 2)));
        store<i32>(top + (<usize>p << 2), load<i32>(top + (<usize>(p - 1) << 2)));
        p--;
      }
      store<f32>(topV + (<usize>p << 2), v);
      store<i32>(top + (<usize>p << 2), i);
      if (have < k) have++;
    }
    // the positives among them (inside the gt), listed for the passes below (−1 ends a list shorter than topk)
    let n = 0;
    for (let t = 0; t < have; t++) {
      const i = <usize>load<i32>(top + (<usize>t << 2));
      if (!load<u8>(inGts + row + i)) continue;
      store<u8>(posBefore + row + i, 1);
      store<i32>(list + (<usize>n << 2), <i32>i);
      n++;
    }
    if (n < topk) store<i32>(list + (<usize>n << 2), -1);
  }
  memory.copy(pos, posBefore, <usize>m * <usize>a);
  // Background everywhere first (target_gt_idx 0: gt 0's label and box, as upstream), then the listed positives.
  const lab0 = load<i32>(labels);
  for (let i = 0; i < a; i++) {
    store<i32>(fg + (<usize>i << 2), 0);
    store<i32>(targetGtIdx + (<usize>i << 2), 0);
    store<i32>(targetLabels + (<usize>i << 2), lab0 > 0 ? lab0 : 0); // clamp_(0)
    memory.copy(targetBoxes + (<usize>i << 4), gts, 16);
    store<f32>(norm + (<usize>i << 2), 0);
  }
  // one gt per anchor: the first gt that lists it (fg counts the gts), several → argmax of overlaps over all gts
  let numFg = 0, numExtras = 0;
  // (gt·a + anchor) of every anchor resolved by the argmax: the winner need not have listed it
  const extras = lists + (<usize>(m * topk) << 2);
  for (let j = 0; j < m; j++) {
    const list = lists + (<usize>(j * topk) << 2);
    for (let t = 0; t < topk; t++) {
      const i = load<i32>(list + (<usize>t << 2));
      if (i < 0) break;
      const fp = fg + (<usize>i << 2);
      const count = load<i32>(fp);
      if (count == 0) { store<i32>(targetGtIdx + (<usize>i << 2), j); numFg++; }
      store<i32>(fp, count + 1);
    }
  }
  for (let j = 0; j < m; j++) {
    const list = lists + (<usize>(j * topk) << 2);
    for (let t = 0; t < topk; t++) {
      const i = load<i32>(list + (<usize>t << 2));
      if (i < 0) break;
      const ui = <usize>i, fp = fg + (ui << 2);
      const count = load<i32>(fp);
      if (count == 0) continue; // resolved already (listed by an earlier gt too)
      let idx = load<i32>(targetGtIdx + (ui << 2));
      if (count > 1) {
        let best = load<f32>(overlaps + (ui << 2));
        idx = 0;
        for (let q = 1; q < m; q++) {
          const v = load<f32>(overlaps + ((<usize>q * <usize>a + ui) << 2));
          if (v > best) { best = v; idx = q; }
        }
        for (let q = 0; q < m; q++) store<u8>(pos + <usize>q * <usize>a + ui, q == idx ? 1 : 0);
        // the winner need not be a gt that listed the anchor: the normalisation below must see the pair anyway
        store<i32>(extras + (<usize>numExtras << 2), idx * a + i);
        numExtras++;
      }
      store<i32>(fp, 0); // marks it resolved; set to 1 below
      store<i32>(targetGtIdx + (ui << 2), idx);
      const lab = load<i32>(labels + (<usize>idx << 2));
      store<i32>(targetLabels + (ui << 2), lab > 0 ? lab : 0);
      memory.copy(targetBoxes + (ui << 4), gts + (<usize>idx << 4), 16);
    }
  }
  // fg back to 1 on every positive anchor (its gt's row of pos holds it)
  for (let j = 0; j < m; j++) {
    const list = lists + (<usize>(j * topk) << 2);
    for (let t = 0; t < topk; t++) {
      const i = load<i32>(list + (<usize>t << 2));
      if (i < 0) break;
      store<i32>(fg + (<usize>i << 2), 1);
    }
  }
  // normalised alignment: per gt the largest aligned metric and overlap over its positives (max ignores NaN, as before)
  for (let j = 0; j < m; j++) {
    const row = <usize>j * <usize>a, list = lists + (<usize>(j * topk) << 2);
    let pa: f32 = 0, po: f32 = 0;
    for (let t = 0; t < topk; t++) {
      const i = load<i32>(list + (<usize>t << 2));
      if (i < 0) break;
      if (!load<u8>(pos + row + <usize>i)) continue;
      const am = load<f32>(align + ((row + <usize>i) << 2)), om = load<f32>(overlaps + ((row + <usize>i) << 2));
      if (am > pa) pa = am;
      if (om > po) po = om;
    }
    for (let e = 0; e < numExtras; e++) {
      const v = load<i32>(extras + (<usize>e << 2));
      if (v / a != j) continue;
      const i = <usize>(v % a);
      const am = load<f32>(align + ((row + i) << 2)), om = load<f32>(overlaps + ((row + i) << 2));
      if (am > pa) pa = am;
      if (om > po) po = om;
    }
    const den = pa + eps;
    for (let e = 0; e < numExtras; e++) {
      const v = load<i32>(extras + (<usize>e << 2));
      if (v / a != j) continue;
      const i = <usize>(v % a);
      const q = load<f32>(align + ((row + i) << 2)) * po / den;
      if (q > load<f32>(norm + (i << 2))) store<f32>(norm + (i << 2), q);
    }
    for (let t = 0; t < topk; t++) {
      const i = load<i32>(list + (<usize>t << 2));
      if (i < 0) break;
      if (!load<u8>(pos + row + <usize>i)) continue;
      const q = load<f32>(align + ((row + <usize>i) << 2)) * po / den;
      if (q > load<f32>(norm + (<usize>i << 2))) store<f32>(norm + (<usize>i << 2), q);
    }
  }
  return numFg;
}
