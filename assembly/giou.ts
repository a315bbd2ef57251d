// GIoU loss for aligned xyxy box pairs, fused forward and gradient (mmdetection v3.1 `giou_loss` over
// `bbox_overlaps(mode='giou', is_aligned=True)`), with the subgradients torch produces: max/min ties split 0.5/0.5,
// clamp(min=0) passes the gradient at exactly 0, and max(·, eps) sends nothing below eps.
//   union U = max(area_p + area_t − overlap, eps),  enclose E = max(enclose_w·enclose_h, eps)
//   giou = overlap/U − (E − U)/E,  loss = 1 − giou
// `plusOne` = 1 gives the paper's official code (implus/GFocal, mmdetection 1.x): every width and height gets +1,
// and eps is added to U and E instead of taken as a floor. Its `iou` output is then GFocal's IoU target
// overlap/(area_p + area_t − overlap), without eps; otherwise `iou` = overlap/U (bbox_overlaps, mode 'iou').
// ABI as in qfl.ts: one row = one box pair; `gradTarget` receives ∂/∂target.

import { maxShare, minShare } from "./math";

/** Byte offsets of what giouBox writes at `out`. */
export const BOX_GRAD_PRED: usize = 0;    // 4 floats: ∂loss/∂pred box, times c
export const BOX_IOU: usize = 16;         // IoU (plusOne: GFocal's IoU target, without eps)
export const BOX_GIOU: usize = 20;        // GIoU itself
export const BOX_GRAD_TARGET: usize = 32; // 4 floats: ∂loss/∂target box, times c (only with withTarget)

/**
 * GIoU loss of one box pair, and with `grad` its gradient for the upstream factor c: the one implementation used by
 * the giou kernel and by the GFL head's positives pass. Returns 1 − GIoU; writes at `out` (layout above).
 */
// @ts-ignore: decorator
@inline export function giouBox(
  px1: f32, py1: f32, px2: f32, py2: f32, tx1: f32, ty1: f32, tx2: f32, ty2: f32,
  eps: f32, plusOne: bool, c: f32, grad: bool, withTarget: bool, out: usize,
): f32 {
  const o: f32 = plusOne ? 1.0 : 0.0;
  const ltx = max(px1, tx1), lty = max(py1, ty1), rbx = min(px2, tx2), rby = min(py2, ty2);
  const wx0 = rbx - ltx + o, wy0 = rby - lty + o;
  const wx: f32 = wx0 < 0 ? 0 : wx0, wy: f32 = wy0 < 0 ? 0 : wy0;
  const ov = wx * wy;
  const pw = px2 - px1 + o, ph = py2 - py1 + o, tw = tx2 - tx1 + o, th = ty2 - ty1 + o;
  const un0 = pw * ph + tw * th - ov;
  const u = plusOne ? un0 + eps : max(un0, eps);
  const iou = ov / u;
  const ex1 = min(px1, tx1), ey1 = min(py1, ty1), ex2 = max(px2, tx2), ey2 = max(py2, ty2);
  const ewx0 = ex2 - ex1 + o, ewy0 = ey2 - ey1 + o;
  const ewx: f32 = ewx0 < 0 ? 0 : ewx0, ewy: f32 = ewy0 < 0 ? 0 : ewy0;
  const e0 = ewx * ewy;
  const e = plusOne ? e0 + eps : max(e0, eps);
  const g = iou - (e - u) / e;
  store<f32>(out + BOX_IOU, plusOne ? ov / un0 : iou);
  store<f32>(out + BOX_GIOU, g);
  if (grad) {
    const dg = -c;
    const dq = -dg;                                   // q = (E − U)/E, giou = iou − q
    const dE = dq * (u / (e * e));
    const dU = dq * (-1.0 / e) - dg * ov / (u * u);
    let dov = dg / u;
    const dun0 = plusOne ? dU : dU * maxShare(un0, eps);
    dov -= dun0;
    const dE0 = plusOne ? dE : dE * maxShare(e0, eps);
    const dewx0: f32 = ewx0 >= 0 ? dE0 * ewy : 0, dewy0: f32 = ewy0 >= 0 ? dE0 * ewx : 0;
    const dwx0: f32 = wx0 >= 0 ? dov * wy : 0, dwy0: f32 = wy0 >= 0 ? dov * wx : 0;
    // enclose corners: ex1 = min(p, t) gets −dewx0, ex2 = max(p, t) gets +dewx0; overlap corners likewise
    const sx1 = minShare(px1, tx1), sy1 = minShare(py1, ty1), sx2 = maxShare(px2, tx2), sy2 = maxShare(py2, ty2);
    const lx = maxShare(px1, tx1), ly = maxShare(py1, ty1), rx = minShare(px2, tx2), ry = minShare(py2, ty2);
    store<f32>(out + BOX_GRAD_PRED, -dewx0 * sx1 - dwx0 * lx - dun0 * ph);
    store<f32>(out + BOX_GRAD_PRED, -dewy0 * sy1 - dwy0 * ly - dun0 * pw, 4);
    store<f32>(out + BOX_GRAD_PRED, dewx0 * sx2 + dwx0 * rx + dun0 * ph, 8);
    store<f32>(out + BOX_GRAD_PRED, dewy0 * sy2 + dwy0 * ry + dun0 * pw, 12);
    if (withTarget) {
      store<f32>(out + BOX_GRAD_TARGET, -dewx0 * (1.0 - sx1) - dwx0 * (1.0 - lx) - dun0 * th);
      store<f32>(out + BOX_GRAD_TARGET, -dewy0 * (1.0 - sy1) - dwy0 * (1.0 - ly) - dun0 * tw, 4);
      store<f32>(out + BOX_GRAD_TARGET, dewx0 * (1.0 - sx2) + dwx0 * (1.0 - rx) + dun0 * th, 8);
      store<f32>(out + BOX_GRAD_TARGET, dewy0 * (1.0 - sy2) + dwy0 * (1.0 - ry) + dun0 * tw, 12);
    }
  }
  return <f32>1.0 - g;
}

/** `scratch`: 48 bytes per row (row-indexed, so that blocks of rows can run on any thread). */
export function giou(
  pred: usize, target: usize, coef: usize, rowLoss: usize, iouOut: usize, giouOut: usize,
  gradPred: usize, gradTarget: usize, scratch: usize, rows: i32, eps: f32, plusOne: i32,
): f64 {
  let total: f64 = 0;
  const grad = gradPred != 0 || gradTarget != 0;
  for (let i = 0; i < rows; i++) {
    const pp = pred + (<usize>i << 4);
    const tp = target + (<usize>i << 4);
    const sc = scratch + <usize>i * 48;
    const c = load<f32>(coef + (<usize>i << 2));
    const loss = giouBox(
      load<f32>(pp), load<f32>(pp, 4), load<f32>(pp, 8), load<f32>(pp, 12),
      load<f32>(tp), load<f32>(tp, 4), load<f32>(tp, 8), load<f32>(tp, 12),
      eps, plusOne != 0, c, grad, true, sc,
    );
    if (rowLoss) store<f32>(rowLoss + (<usize>i << 2), loss);
    if (iouOut) store<f32>(iouOut + (<usize>i << 2), load<f32>(sc + BOX_IOU));
    if (giouOut) store<f32>(giouOut + (<usize>i << 2), load<f32>(sc + BOX_GIOU));
    total += <f64>c * <f64>loss;
    if (gradPred) memory.copy(gradPred + (<usize>i << 4), sc + BOX_GRAD_PRED, 16);
    if (gradTarget) memory.copy(gradTarget + (<usize>i << 4), sc + BOX_GRAD_TARGET, 16);
  }
  return total;
}
