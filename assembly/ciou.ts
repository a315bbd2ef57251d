// CIoU as ultralytics 8.3 computes it (`bbox_iou(box1, box2, xywh=False, CIoU=True)`), loss = 1 − CIoU, fused
// forward and gradient for aligned xyxy pairs:
//   w = x2 − x1, h = y2 − y1 + eps;  inter = clamp(min(x2) − max(x1), 0)·clamp(min(y2) − max(y1), 0)
//   union = w1h1 + w2h2 − inter + eps;  iou = inter/union
//   c² = cw² + ch² + eps (enclosing box);  ρ² = ((Σx of box2 − Σx of box1)² + (same for y))/4
//   v = 4/π²·(atan(w2/h2) − atan(w1/h1))²;  α = v/(v − iou + 1 + eps), held constant in backward (torch.no_grad)
//   CIoU = iou − (ρ²/c² + v·α)
// Also writes iou and ultralytics' GIoU (iou − (cw·ch + eps − union)/(cw·ch + eps)) when asked.
// Subgradients as torch: maximum/minimum ties split 0.5/0.5, clamp(min=0) passes at 0. ABI as in qfl.ts.

import { atan1, maxShare, minShare } from "./math";
import { BOX_GRAD_PRED, BOX_GRAD_TARGET } from "./giou";

const FOUR_OVER_PI2: f32 = 0.40528473456935108577551785283891; // 4/π²

/** Byte offsets of what ciouBox writes at `out` (the gradients as giou.ts's BOX_GRAD_PRED / BOX_GRAD_TARGET). */
export const CIOU_VALUE: usize = 16;
export const CIOU_IOU: usize = 20;
export const CIOU_GIOU: usize = 24;

/**
 * 1 − CIoU of one box pair, and with `grad` its gradient for the upstream factor c (box1 at BOX_GRAD_PRED, box2 at
 * BOX_GRAD_TARGET with `withBox2`): the one implementation used by the ciou kernel and by the YOLOv8 positives pass.
 */
// @ts-ignore: decorator
@inline export function ciouBox(
  ax1: f32, ay1: f32, ax2: f32, ay2: f32, bx1: f32, by1: f32, bx2: f32, by2: f32,
  eps: f32, c: f32, grad: bool, withBox2: bool, out: usize,
): f32 {
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
  const ca = cw * ch + eps;
  store<f32>(out + CIOU_VALUE, ci);
  store<f32>(out + CIOU_IOU, iou);
  store<f32>(out + CIOU_GIOU, iou - (ca - union) / ca);
  if (grad) {
    const dci = -c;
    const drho2 = -dci / c2;
    const dc2 = dci * rho2 / (c2 * c2);
    const dv = -dci * alpha;
    // iou = inter/union
    let dinter = dci / union;
    const dunion = -dci * inter / (union * union);
    let dw1 = dunion * h1, dh1 = dunion * w1, dw2 = dunion * h2, dh2 = dunion * w2;
    dinter -= dunion;
    // v = k·(atan r2 − atan r1)²
    const dda = dv * FOUR_OVER_PI2 * 2.0 * da;
    const dr2 = dda / (1.0 + r2 * r2), dr1 = -dda / (1.0 + r1 * r1);
    dw2 += dr2 / h2; dh2 -= dr2 * w2 / (h2 * h2);
    dw1 += dr1 / h1; dh1 -= dr1 * w1 / (h1 * h1);
    // inter = ix·iy
    const dix0: f32 = ix0 >= 0 ? dinter * iy : 0, diy0: f32 = iy0 >= 0 ? dinter * ix : 0;
    // c² = cw² + ch²
    const dcw = dc2 * 2.0 * cw, dch = dc2 * 2.0 * ch;
    // ρ² = (sx² + sy²)/4
    const dsx = drho2 * sx * 0.5, dsy = drho2 * sy * 0.5;
    const ix2 = minShare(ax2, bx2), ix1 = maxShare(ax1, bx1), iy2 = minShare(ay2, by2), iy1 = maxShare(ay1, by1);
    const cx2 = maxShare(ax2, bx2), cx1 = minShare(ax1, bx1), cy2 = maxShare(ay2, by2), cy1 = minShare(ay1, by1);
    store<f32>(out + BOX_GRAD_PRED, -dw1 - dix0 * ix1 - dcw * cx1 - dsx);
    store<f32>(out + BOX_GRAD_PRED, -dh1 - diy0 * iy1 - dch * cy1 - dsy, 4);
    store<f32>(out + BOX_GRAD_PRED, dw1 + dix0 * ix2 + dcw * cx2 - dsx, 8);
    store<f32>(out + BOX_GRAD_PRED, dh1 + diy0 * iy2 + dch * cy2 - dsy, 12);
    if (withBox2) {
      store<f32>(out + BOX_GRAD_TARGET, -dw2 - dix0 * (1.0 - ix1) - dcw * (1.0 - cx1) + dsx);
      store<f32>(out + BOX_GRAD_TARGET, -dh2 - diy0 * (1.0 - iy1) - dch * (1.0 - cy1) + dsy, 4);
      store<f32>(out + BOX_GRAD_TARGET, dw2 + dix0 * (1.0 - ix2) + dcw * (1.0 - cx2) + dsx, 8);
      store<f32>(out + BOX_GRAD_TARGET, dh2 + diy0 * (1.0 - iy2) + dch * (1.0 - cy2) + dsy, 12);
    }
  }
  return <f32>1.0 - ci;
}

/** `scratch`: 48 bytes per row (row-indexed, so that blocks of rows can run on any thread). */
export function ciou(
  box1: usize, box2: usize, coef: usize, rowLoss: usize, ciouOut: usize, iouOut: usize, giouOut: usize,
  grad1: usize, grad2: usize, scratch: usize, rows: i32, eps: f32,
): f64 {
  let total: f64 = 0;
  const grad = grad1 != 0 || grad2 != 0;
  for (let i = 0; i < rows; i++) {
    const p = box1 + (<usize>i << 4);
    const q = box2 + (<usize>i << 4);
    const sc = scratch + <usize>i * 48;
    const c = load<f32>(coef + (<usize>i << 2));
    const loss = ciouBox(
      load<f32>(p), load<f32>(p, 4), load<f32>(p, 8), load<f32>(p, 12),
      load<f32>(q), load<f32>(q, 4), load<f32>(q, 8), load<f32>(q, 12),
      eps, c, grad, true, sc,
    );
    if (rowLoss) store<f32>(rowLoss + (<usize>i << 2), loss);
    if (ciouOut) store<f32>(ciouOut + (<usize>i << 2), load<f32>(sc + CIOU_VALUE));
    if (iouOut) store<f32>(iouOut + (<usize>i << 2), load<f32>(sc + CIOU_IOU));
    if (giouOut) store<f32>(giouOut + (<usize>i << 2), load<f32>(sc + CIOU_GIOU));
    total += <f64>c * <f64>loss;
    if (grad1) memory.copy(grad1 + (<usize>i << 4), sc + BOX_GRAD_PRED, 16);
    if (grad2) memory.copy(grad2 + (<usize>i << 4), sc + BOX_GRAD_TARGET, 16);
  }
  return total;
}
