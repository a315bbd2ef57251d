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

/** bbox_iou(box1 = gt, box2 = pred, xywh=False, CIoU=True), ultralytics' order of operations. */
// @ts-ignore: decorator
@inline function ciouGtPred(b1: usize, b2: usize): f32 {
  const b1x1 = load<f32>(b1), b1y1 = load<f32>(b1, 4), b1x2 = load<f32>(b1, 8), b1y2 = load<f32>(b1, 12);
  const b2x1 = load<f32>(b2), b2y1 = load<f32>(b2, 4), b2x2 = load<f32>(b2, 8), b2y2 = load<f32>(b2, 12);
  const w1 = b1x2 - b1x1, h1 = b1y2 - b1y1 + CIOU_EPS;
  const w2 = b2x2 - b2x1, h2 = b2y2 - b2y1 + CIOU_EPS;
  const ix0 = min(b1x2, b2x2) - max(b1x1, b2x1), iy0 = min(b1y2, b2y2) - max(b1y1, b2y1);
  const inter = (ix0 > 0 ? ix0 : <f32>0) * (iy0 > 0 ? iy0 : <f32>0);
  const union = w1 * h1 + w2 * h2 - inter + CIOU_EPS;
  const iou = inter / union;
  const cw = max(b1x2, b2x2) - min(b1x1, b2x1), ch = max(b1y2, b2y2) - min(b1y1, b2y1);
  const c2 = cw * cw + ch * ch + CIOU_EPS;
  const sx = b2x1 + b2x2 - b1x1 - b1x2, sy = b2y1 + b2y2 - b1y1 - b1y2;
  const rho2 = (sx * sx + sy * sy) / <f32>4.0;
  const da = atanf(w2 / h2) - atanf(w1 / h1);
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
 * One image. scores a×nc (probabilities), pred a×4 xyxy, points a×2 (pixels), labels m i32 (class per gt), gts m×4,
 * maskGt m i32 (1 real gt, 0 padding). Matrices (m×a, row = gt): overlaps and align (f32), inGts, posBefore and pos
 * (u8). Outputs: targetLabels, targetGtIdx, fg (a i32), targetBoxes a×4, targetScores a×nc, norm a (f32).
 * `top` (topk i32) and `topV` (topk f32) are scratch. Returns the number of foreground anchors.
 */
export function talAssign(
  scores: usize, pred: usize, points: usize, labels: usize, gts: usize, maskGt: usize, a: i32, m: i32, nc: i32,
  topk: i32, alpha: f32, beta: f32, eps: f32,
  overlaps: usize, align: usize, inGts: usize, posBefore: usize, pos: usize, top: usize, topV: usize,
  targetLabels: usize, targetGtIdx: usize, fg: usize, targetBoxes: usize, targetScores: usize, norm: usize,
): i32 {
  const zeroMetric = powf(0, alpha) * powf(0, beta);
  for (let j = 0; j < m; j++) {
    const g = gts + (<usize>j << 4);
    const gx1 = load<f32>(g), gy1 = load<f32>(g, 4), gx2 = load<f32>(g, 8), gy2 = load<f32>(g, 12);
    const real = load<i32>(maskGt + (<usize>j << 2)) != 0;
    const label = load<i32>(labels + (<usize>j << 2));
    const row = <usize>j * <usize>a;
    for (let i = 0; i < a; i++) {
      const px = load<f32>(points + (<usize>i << 3)), py = load<f32>(points + (<usize>i << 3), 4);
      const d = min(min(px - gx1, py - gy1), min(gx2 - px, gy2 - py));
      const inside = d > <f32>1e-9;
      store<u8>(inGts + row + <usize>i, inside ? 1 : 0);
      let ov: f32 = 0, metric = zeroMetric;
      if (inside && real) {
        const c = ciouGtPred(g, pred + (<usize>i << 4));
        ov = c > 0 ? c : 0; // clamp_(0); NaN stays NaN in torch's clamp, and here
        if (c != c) ov = c;
        metric = powf(load<f32>(scores + ((<usize>i * <usize>nc + <usize>label) << 2)), alpha) * powf(ov, beta);
      }
      store<f32>(overlaps + ((row + <usize>i) << 2), ov);
      store<f32>(align + ((row + <usize>i) << 2), metric);
    }
    memory.fill(posBefore + row, 0, <usize>a);
    if (!real) continue; // padding gts select nothing (upstream zeroes their topk indices and drops the repeats)
    // topk largest metrics, kept sorted (value descending, then index) by insertion
    const k = min(topk, a);
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
    for (let t = 0; t < have; t++) {
      const i = <usize>load<i32>(top + (<usize>t << 2));
      if (load<u8>(inGts + row + i)) store<u8>(posBefore + row + i, 1);
    }
  }
  memory.copy(pos, posBefore, <usize>m * <usize>a);
  // one gt per anchor: several → argmax of overlaps over all gts; then target_gt_idx = argmax of the mask (0 if none)
  let numFg = 0;
  for (let i = 0; i < a; i++) {
    let count = 0, first = 0;
    for (let j = 0; j < m; j++) {
      if (load<u8>(posBefore + <usize>j * <usize>a + <usize>i)) { if (count == 0) first = j; count++; }
    }
    let idx = count > 0 ? first : 0;
    if (count > 1) {
      let best = load<f32>(overlaps + (<usize>i << 2));
      idx = 0;
      for (let j = 1; j < m; j++) {
        const v = load<f32>(overlaps + ((<usize>j * <usize>a + <usize>i) << 2));
        if (v > best) { best = v; idx = j; }
      }
      for (let j = 0; j < m; j++) store<u8>(pos + <usize>j * <usize>a + <usize>i, j == idx ? 1 : 0);
    }
    const isFg = count > 0;
    if (isFg) numFg++;
    store<i32>(fg + (<usize>i << 2), isFg ? 1 : 0);
    store<i32>(targetGtIdx + (<usize>i << 2), idx);
    const lab = load<i32>(labels + (<usize>idx << 2));
    store<i32>(targetLabels + (<usize>i << 2), lab > 0 ? lab : 0); // clamp_(0)
    memory.copy(targetBoxes + (<usize>i << 4), gts + (<usize>idx << 4), 16);
    store<f32>(norm + (<usize>i << 2), 0);
  }
  // normalised alignment: per gt the largest aligned metric and overlap over its positives
  for (let j = 0; j < m; j++) {
    const row = <usize>j * <usize>a;
    let pa: f32 = 0, po: f32 = 0;
    for (let i = 0; i < a; i++) {
      const p: f32 = load<u8>(pos + row + <usize>i) ? 1 : 0;
      const am = load<f32>(align + ((row + <usize>i) << 2)) * p, om = load<f32>(overlaps + ((row + <usize>i) << 2)) * p;
      if (am > pa) pa = am;
      if (om > po) po = om;
    }
    const den = pa + eps;
    for (let i = 0; i < a; i++) {
      if (!load<u8>(pos + row + <usize>i)) continue;
      const q = load<f32>(align + ((row + <usize>i) << 2)) * po / den;
      if (q > load<f32>(norm + (<usize>i << 2))) store<f32>(norm + (<usize>i << 2), q);
    }
  }
  for (let i = 0; i < a; i++) {
    const s = targetScores + (<usize>i * <usize>nc << 2);
    memory.fill(s, 0, <usize>nc << 2);
    if (load<i32>(fg + (<usize>i << 2))) {
      store<f32>(s + (<usize>load<i32>(targetLabels + (<usize>i << 2)) << 2), load<f32>(norm + (<usize>i << 2)));
    }
  }
  return numFg;
}
