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

import { atan1, maxShare, minShare } from "./math";
import { sideSoftmaxInto, sideDfl, sideGrad } from "./gfl-head";

const FOUR_OVER_PI2: f32 = 0.40528473456935108577551785283891; // 4/π²

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

    let dfl: f32 = 0;
    for (let sd = 0; sd < 4; sd++) {
      const z = zp + <usize>sd * rowBytes;
      sideSoftmaxInto(z, gp ? gp + <usize>sd * rowBytes : 0, bins, sc + (<usize>sd << 3), sc + (<usize>(sd + 4) << 3));
      dfl += sideDfl(z, <f32>load<f64>(sc + (<usize>(sd + 4) << 3)), load<f32>(cp + (<usize>sd << 2)), true);
    }
    dfl = dfl / 4.0;
    const yl = load<f64>(sc), yt = load<f64>(sc, 8), yr = load<f64>(sc, 16), yb = load<f64>(sc, 24);
    // dist2bbox(xywh=False): x1y1 = a − lt, x2y2 = a + rb
    const ax1 = ax - <f32>yl, ay1 = ay - <f32>yt, ax2 = ax + <f32>yr, ay2 = ay + <f32>yb;
    const pb = predBox + (ko << 4);
    store<f32>(pb, ax1); store<f32>(pb, ay1, 4); store<f32>(pb, ax2, 8); store<f32>(pb, ay2, 12);

    // CIoU, box1 = pred, box2 = target
    const w1 = ax2 - ax1, h1 = ay2 - ay1 + eps, w2 = bx2 - bx1, h2 = by2 - by1 + eps;
    const ix0 = min(ax2, bx2) - max(ax1, bx1), iy0 = min(ay2, by2) - max(ay1, by1);
    const ix: f32 = ix0 < 0 ? 0 : ix0, iy: f32 = iy0 < 0 ? 0 : iy0;
    const inter = ix * iy;
    const union = w1 * h1 + w2 * h2 - inter + eps;
    const iou = inter / union;
    const cw = max(ax2, bx2) - min(ax1, bx1), ch = max(ay2, by2) - min(ay1, by1);
    const c2 = cw * cw + ch * ch + eps;
    const sx = bx1 + bx2 - ax1 - ax2, sy = by1 + by2 - ay1 - ay2;
    const rho2 = (sx * sx + sy * sy) / 4.0;
    const r1 = w1 / h1, r2 = w2 / h2;
    const da = atan1(r2) - atan1(r1);
    const v = FOUR_OVER_PI2 * (da * da);
    const alpha = v / (v - iou + (1.0 + eps));
    const ci = iou - (rho2 / c2 + v * alpha);
    if (ciouOut) store<f32>(ciouOut + (ko << 2), ci);
    if (dflOut) store<f32>(dflOut + (ko << 2), dfl);
    total += <f64>boxCoef * <f64>(wk * (<f32>1.0 - ci)) + <f64>dflCoef * <f64>(wk * dfl);
    if (!gp) continue;

    const dci = -(boxCoef * wk);
    const drho2 = -dci / c2;
    const dc2 = dci * rho2 / (c2 * c2);
    const dv = -dci * alpha;
    let dinter = dci / union;
    const dunion = -dci * inter / (union * union);
    let dw1 = dunion * h1, dh1 = dunion * w1;
    dinter -= dunion;
    const dda = dv * FOUR_OVER_PI2 * 2.0 * da;
    const dr1 = -dda / (1.0 + r1 * r1);
    dw1 += dr1 / h1; dh1 -= dr1 * w1 / (h1 * h1);
    const dix0: f32 = ix0 >= 0 ? dinter * iy : 0, diy0: f32 = iy0 >= 0 ? dinter * ix : 0;
    const dcw = dc2 * 2.0 * cw, dch = dc2 * 2.0 * ch;
    const dsx = drho2 * sx * 0.5, dsy = drho2 * sy * 0.5;
    const gx1 = -dw1 - dix0 * maxShare(ax1, bx1) - dcw * minShare(ax1, bx1) - dsx;
    const gy1 = -dh1 - diy0 * maxShare(ay1, by1) - dch * minShare(ay1, by1) - dsy;
    const gx2 = dw1 + dix0 * minShare(ax2, bx2) + dcw * maxShare(ax2, bx2) - dsx;
    const gy2 = dh1 + diy0 * minShare(ay2, by2) + dch * maxShare(ay2, by2) - dsy;
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
