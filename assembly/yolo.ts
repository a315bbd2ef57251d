// ultralytics 8.3 v8DetectionLoss, the foreground anchors (BboxLoss): Integral → dist2bbox → CIoU → DFLoss, fused,
// with the gradient chained back into the box-distribution logits (see gfl-head.ts for the shared per-side pieces).
// The classification term (BCE with soft targets over every logit) is the QFL kernel at β = 0, run by the caller.
//
// Per foreground anchor k (compact rows, gathered by the caller):
//   pred (4·bins logits, channel = side·bins + bin), point (anchor point, grid units), stride, target (xyxy pixels),
//   w (Σ_c target_scores of the row)
// Writes grad (4·bins), predBox (grid units), corners (DFL targets: bbox2dist clamped to [0, bins − 1 − 0.01], the
// same clamp DFLoss applies again), ciouOut (CIoU) and dflOut (DFLoss: the mean over the four sides, unweighted).
// Returns Σ boxCoef·w·(1 − CIoU) + dflCoef·w·DFL; the gradient is that of the returned sum.
// CIoU as ciou.ts (eps added to h, union and c²; α held constant in backward, as torch.no_grad upstream).

import { ciouBox, CIOU_VALUE } from "./ciou";
import { BOX_GRAD_PRED } from "./giou";
import { sidesSoftmax, sideGrad } from "./gfl-head";

export function yoloV8Positives(
  pred: usize, point: usize, stride: usize, target: usize, w: usize,
  grad: usize, predBox: usize, corners: usize, ciouOut: usize, dflOut: usize,
  scratch: usize, rows: i32, bins: i32, boxCoef: f32, dflCoef: f32, eps: f32,
): f64 {
  const dmax = <f32>(<f64>(bins - 1) - 0.01);
  const rowBytes = <usize>(bins << 2);
  let total: f64 = 0;
  for (let k = 0; k < rows; k++) {
    const ko = <usize>k;
    const zp = pred + ko * (rowBytes << 2);
    const gp = grad ? grad + ko * (rowBytes << 2) : 0;
    const sc = scratch + (ko << 6);
    const s = load<f32>(stride + (ko << 2));
    const wk = load<f32>(w + (ko << 2));
    const ax = load<f32>(point + (ko << 3)), ay = load<f32>(point + (ko << 3), 4);
    const tp = target + (ko << 4);
    const bx1 = load<f32>(tp) / s, by1 = load<f32>(tp, 4) / s, bx2 = load<f32>(tp, 8) / s, by2 = load<f32>(tp, 12) / s;
    // bbox2dist(anchor_points, target_bboxes, reg_max − 1): (a − x1y1, x2y2 − a) clamped
    const cp = corners + (ko << 4);
    store<f32>(cp, clampTo(ax - bx1, dmax)); store<f32>(cp, clampTo(ay - by1, dmax), 4);
    store<f32>(cp, clampTo(bx2 - ax, dmax), 8); store<f32>(cp, clampTo(by2 - ay, dmax), 12);

    let dfl = sidesSoftmax(zp, gp, bins, sc, cp, true);
    dfl = dfl / 4.0;
    const yl = load<f64>(sc), yt = load<f64>(sc, 8), yr = load<f64>(sc, 16), yb = load<f64>(sc, 24);
    // dist2bbox(xywh=False): x1y1 = a − lt, x2y2 = a + rb
    const ax1 = ax - <f32>yl, ay1 = ay - <f32>yt, ax2 = ax + <f32>yr, ay2 = ay + <f32>yb;
    const pb = predBox + (ko << 4);
    store<f32>(pb, ax1); store<f32>(pb, ay1, 4); store<f32>(pb, ax2, 8); store<f32>(pb, ay2, 12);

    // CIoU (box1 = pred, box2 = target) and its gradient for the pred box, by ciou.ts's ciouBox; the logsumexp
    // slots of the scratch row (sc + 32 …) are free once the DFL is summed
    const bo = sc + 32;
    const boxLoss = ciouBox(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2, eps, boxCoef * wk, gp != 0, false, bo);
    if (ciouOut) store<f32>(ciouOut + (ko << 2), load<f32>(bo + CIOU_VALUE));
    if (dflOut) store<f32>(dflOut + (ko << 2), dfl);
    total += <f64>boxCoef * <f64>(wk * boxLoss) + <f64>dflCoef * <f64>(wk * dfl);
    if (!gp) continue;

    const gx1 = load<f32>(bo + BOX_GRAD_PRED), gy1 = load<f32>(bo + BOX_GRAD_PRED, 4);
    const gx2 = load<f32>(bo + BOX_GRAD_PRED, 8), gy2 = load<f32>(bo + BOX_GRAD_PRED, 12);
    // DFLoss averages the four sides: each side's coefficient is a quarter
    const cD = dflCoef * wk * 0.25;
    sideGrad(gp, bins, load<f32>(cp), true, cD, -<f64>gx1, yl);
    sideGrad(gp + rowBytes, bins, load<f32>(cp, 4), true, cD, -<f64>gy1, yt);
    sideGrad(gp + 2 * rowBytes, bins, load<f32>(cp, 8), true, cD, <f64>gx2, yr);
    sideGrad(gp + 3 * rowBytes, bins, load<f32>(cp, 12), true, cD, <f64>gy2, yb);
  }
  return total;
}

// @ts-ignore: decorator
@inline function clampTo(v: f32, hi: f32): f32 {
  return v < 0 ? 0 : v > hi ? hi : v;
}

/**
 * Σ v[i] over n floats that must lie in [0, 1] (ultralytics' target scores, whose sum normalises the loss), in float64;
 * −1 − i for the first i outside [0, 1] or NaN. The SIMD tier checks and sums four at a time (two f64x2 sums) and
 * looks at single values only to find the offending one.
 */
export function unitIntervalSum(v: usize, n: i32): f64 {
  let sum: f64 = 0;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0), one = f32x4.splat(1);
    let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
    for (; i + 4 <= n; i += 4) {
      const x = v128.load(v + (<usize>i << 2));
      if (!i32x4.all_true(v128.and(f32x4.ge(x, zero), f32x4.le(x, one)))) break;
      s0 = f64x2.add(s0, f64x2.promote_low_f32x4(x));
      s1 = f64x2.add(s1, f64x2.promote_low_f32x4(v128.shuffle<i64>(x, x, 1, 1)));
    }
    const s = f64x2.add(s0, s1);
    sum = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  }
  for (; i < n; i++) {
    const x = load<f32>(v + (<usize>i << 2));
    if (!(x >= 0 && x <= 1)) return -1 - <f64>i;
    sum += <f64>x;
  }
  return sum;
}
