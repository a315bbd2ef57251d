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

export function giou(
  pred: usize, target: usize, coef: usize, rowLoss: usize, iouOut: usize, giouOut: usize,
  gradPred: usize, gradTarget: usize, rows: i32, eps: f32, plusOne: i32,
): f64 {
  const o: f32 = plusOne ? 1.0 : 0.0;
  let total: f64 = 0;
  for (let i = 0; i < rows; i++) {
    const pp = pred + (<usize>i << 4);
    const tp = target + (<usize>i << 4);
    const px1 = load<f32>(pp), py1 = load<f32>(pp, 4), px2 = load<f32>(pp, 8), py2 = load<f32>(pp, 12);
    const tx1 = load<f32>(tp), ty1 = load<f32>(tp, 4), tx2 = load<f32>(tp, 8), ty2 = load<f32>(tp, 12);
    const c = load<f32>(coef + (<usize>i << 2));

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
    const loss: f32 = 1.0 - g;
    if (rowLoss) store<f32>(rowLoss + (<usize>i << 2), loss);
    if (iouOut) store<f32>(iouOut + (<usize>i << 2), plusOne ? ov / un0 : iou);
    if (giouOut) store<f32>(giouOut + (<usize>i << 2), g);
    total += <f64>c * <f64>loss;
    if (!gradPred && !gradTarget) continue;

    // backward from d loss = c
    const dg = -c;
    const dq = -dg;                                   // q = (E − U)/E, giou = iou − q
    const dE = dq * (u / (e * e));
    let dU = dq * (-1.0 / e) - dg * ov / (u * u);
    let dov = dg / u;
    const dun0 = plusOne ? dU : dU * maxShare(un0, eps);
    const dap = dun0, dat = dun0;
    dov -= dun0;
    const dE0 = plusOne ? dE : dE * maxShare(e0, eps);
    const dewx0: f32 = ewx0 >= 0 ? dE0 * ewy : 0, dewy0: f32 = ewy0 >= 0 ? dE0 * ewx : 0;
    const dwx0: f32 = wx0 >= 0 ? dov * wy : 0, dwy0: f32 = wy0 >= 0 ? dov * wx : 0;
    // enclose corners: ex1 = min(p, t) gets −dewx0, ex2 = max(p, t) gets +dewx0; overlap corners likewise
    let sx1 = minShare(px1, tx1), sy1 = minShare(py1, ty1), sx2 = maxShare(px2, tx2), sy2 = maxShare(py2, ty2);
    let lx = maxShare(px1, tx1), ly = maxShare(py1, ty1), rx = minShare(px2, tx2), ry = minShare(py2, ty2);
    const gpx1 = -dewx0 * sx1 - dwx0 * lx - dap * ph;
    const gpy1 = -dewy0 * sy1 - dwy0 * ly - dap * pw;
    const gpx2 = dewx0 * sx2 + dwx0 * rx + dap * ph;
    const gpy2 = dewy0 * sy2 + dwy0 * ry + dap * pw;
    const gtx1 = -dewx0 * (1.0 - sx1) - dwx0 * (1.0 - lx) - dat * th;
    const gty1 = -dewy0 * (1.0 - sy1) - dwy0 * (1.0 - ly) - dat * tw;
    const gtx2 = dewx0 * (1.0 - sx2) + dwx0 * (1.0 - rx) + dat * th;
    const gty2 = dewy0 * (1.0 - sy2) + dwy0 * (1.0 - ry) + dat * tw;
    if (gradPred) {
      const q = gradPred + (<usize>i << 4);
      store<f32>(q, gpx1); store<f32>(q, gpy1, 4); store<f32>(q, gpx2, 8); store<f32>(q, gpy2, 12);
    }
    if (gradTarget) {
      const q = gradTarget + (<usize>i << 4);
      store<f32>(q, gtx1); store<f32>(q, gty1, 4); store<f32>(q, gtx2, 8); store<f32>(q, gty2, 12);
    }
  }
  return total;
}
