// Inference: from head outputs to scored boxes, float32 as upstream.
//   GFL (mmdetection v3.1 GFLHead._predict_by_feat_single + filter_scores_and_topk): sigmoid scores are used
//   directly (the joint classification-IoU score; no centerness); per level the (anchor, class) pairs with score >
//   score_thr (float32) are sorted descending (stable: ties in flat anchor·C + class order) and the first nms_pre kept;
//   distances = Integral(softmax over the bins) · stride; box = anchor centre ∓ distances, clamped to the image.
//   ultralytics 8.3 (Detect._inference): DFL expectation per side, dist2bbox as xywh on the grid points, · stride;
//   class sigmoid. non_max_suppression's candidates: max class prob > conf (predict) or every (anchor, class) above
//   conf (multi_label), xywh → xyxy.

import { sortIndicesDesc, iota } from "./sort";

/**
 * e^x in float64 without lookup tables (the standard library's exp brings tables, i.e. data segments, which the
 * threads build must not have): x = k·ln2 + r, |r| ≤ ln2/2, Taylor to degree 13 (relative error < 1e-16), 2^k in
 * two steps so that subnormal results come out right. Rounded to float32 it is correctly rounded but for rare
 * double roundings, i.e. as close to torch's float32 sigmoid / softmax as a float32 implementation can be.
 */
export function expd(x: f64): f64 {
  if (x != x) return x;
  if (x > 709.78) return Infinity;
  if (x < -745.2) return 0;
  const k = nearest<f64>(x * 1.4426950408889634);
  const r = (x - k * 0.6931471803691238) - k * 1.9082149292705877e-10;
  let p: f64 = 1.6059043836821613e-10; // 1/13!
  p = p * r + 2.08767569878681e-9;
  p = p * r + 2.505210838544172e-8;
  p = p * r + 2.755731922398589e-7;
  p = p * r + 2.7557319223985893e-6;
  p = p * r + 2.48015873015873e-5;
  p = p * r + 1.984126984126984e-4;
  p = p * r + 1.388888888888889e-3;
  p = p * r + 8.333333333333333e-3;
  p = p * r + 4.1666666666666664e-2;
  p = p * r + 1.6666666666666666e-1;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  const n = <i64>k;
  const n1 = n >> 1, n2 = n - n1;
  return p * reinterpret<f64>((n1 + 1023) << 52) * reinterpret<f64>((n2 + 1023) << 52);
}

/** torch's float32 sigmoid 1/(1 + e^−x), evaluated in float64 and rounded once. */
// @ts-ignore: decorator
@inline function sigmoid(x: f32): f32 {
  return <f32>(1.0 / (1.0 + expd(-<f64>x)));
}

/**
 * Softmax expectation over `bins` values at p, p + step, …: exponentials rounded to float32 (so that a logit 200
 * below the maximum underflows to 0 as in torch's float32 softmax), sums in float64.
 */
// @ts-ignore: decorator
@inline function expectation(p: usize, bins: i32, step: usize): f32 {
  let mx = load<f32>(p);
  for (let j = 1; j < bins; j++) {
    const v = load<f32>(p + <usize>j * step);
    if (v > mx) mx = v;
  }
  let s: f64 = 0, d: f64 = 0;
  for (let j = 0; j < bins; j++) {
    const e = <f64><f32>expd(<f64>(load<f32>(p + <usize>j * step) - mx));
    s += e;
    d += e * <f64>j;
  }
  return <f32>(d / s);
}

/**
 * One level of one image: logits n×c. Candidates: score > thr (float32), keeping only logits above `logitFloor`
 * (a bound below logit(thr), to skip the exponentials of the bulk). Sorted (stable) descending, the first `nmsPre`
 * (≤ 0: all) written to outFlat (flat anchor·c + class, i32) and outScore. Scratch: candFlat, candScore, order, tmp,
 * n·c each. Returns the number written.
 */
export function gflLevelTopk(
  logits: usize, n: i32, c: i32, thr: f32, logitFloor: f32, nmsPre: i32,
  candFlat: usize, candScore: usize, order: usize, tmp: usize, outFlat: usize, outScore: usize,
): i32 {
  let k = 0;
  const total = n * c;
  for (let f = 0; f < total; f++) {
    const x = load<f32>(logits + (<usize>f << 2));
    if (!(x > logitFloor)) continue;
    const s = sigmoid(x);
    if (!(s > thr)) continue;
    store<i32>(candFlat + (<usize>k << 2), f);
    store<f32>(candScore + (<usize>k << 2), s);
    k++;
  }
  iota(order, k);
  sortIndicesDesc(order, candScore, k, tmp);
  const keep = nmsPre > 0 && nmsPre < k ? nmsPre : k;
  for (let t = 0; t < keep; t++) {
    const o = <usize>load<i32>(order + (<usize>t << 2));
    store<i32>(outFlat + (<usize>t << 2), load<i32>(candFlat + (o << 2)));
    store<f32>(outScore + (<usize>t << 2), load<f32>(candScore + (o << 2)));
  }
  return keep;
}

/**
 * Decodes k rows: rows[t] is an anchor row of `reg` (4·bins logits per anchor, sides l, t, r, b) and of `anchors`
 * (xyxy; its centre is the point). Writes out k×4 boxes, clamped to [0, maxW] × [0, maxH] when clamp ≠ 0.
 */
export function gflDecode(
  reg: usize, bins: i32, anchors: usize, rows: usize, k: i32, stride: f32, clamp: i32, maxW: f32, maxH: f32, out: usize,
): void {
  for (let t = 0; t < k; t++) {
    const r = <usize>load<i32>(rows + (<usize>t << 2));
    const p = reg + (r * <usize>(4 * bins) << 2);
    const dl = expectation(p, bins, 4) * stride;
    const dt = expectation(p + (<usize>bins << 2), bins, 4) * stride;
    const dr = expectation(p + (<usize>(2 * bins) << 2), bins, 4) * stride;
    const db = expectation(p + (<usize>(3 * bins) << 2), bins, 4) * stride;
    const a = anchors + (r << 4);
    const cx = (load<f32>(a) + load<f32>(a, 8)) / <f32>2.0, cy = (load<f32>(a, 4) + load<f32>(a, 12)) / <f32>2.0;
    let x1 = cx - dl, y1 = cy - dt, x2 = cx + dr, y2 = cy + db;
    if (clamp) {
      x1 = min(max(x1, 0), maxW); x2 = min(max(x2, 0), maxW);
      y1 = min(max(y1, 0), maxH); y2 = min(max(y2, 0), maxH);
    }
    const o = out + (<usize>t << 4);
    store<f32>(o, x1); store<f32>(o, y1, 4); store<f32>(o, x2, 8); store<f32>(o, y2, 12);
  }
}

/**
 * ultralytics Detect._inference for one image: x (no × a, channel-major; channel = side·regMax + bin, then nc class
 * logits), points a×2 (grid units, cell centres), strides a. Writes pred ((4 + nc) × a): cx, cy, w, h in pixels, then
 * the class probabilities.
 */
export function yoloDecode(x: usize, a: i32, regMax: i32, nc: i32, points: usize, strides: usize, pred: usize): void {
  const step = <usize>a << 2;
  for (let i = 0; i < a; i++) {
    const col = x + (<usize>i << 2);
    const l = expectation(col, regMax, step);
    const t = expectation(col + <usize>regMax * step, regMax, step);
    const r = expectation(col + <usize>(2 * regMax) * step, regMax, step);
    const b = expectation(col + <usize>(3 * regMax) * step, regMax, step);
    const px = load<f32>(points + (<usize>i << 3)), py = load<f32>(points + (<usize>i << 3), 4);
    const s = load<f32>(strides + (<usize>i << 2));
    const x1 = px - l, y1 = py - t, x2 = px + r, y2 = py + b;
    const o = pred + (<usize>i << 2);
    store<f32>(o, (x1 + x2) / <f32>2.0 * s);
    store<f32>(o + step, (y1 + y2) / <f32>2.0 * s);
    store<f32>(o + 2 * step, (x2 - x1) * s);
    store<f32>(o + 3 * step, (y2 - y1) * s);
    for (let c = 0; c < nc; c++) {
      const q = <usize>(4 * regMax + c) * step;
      store<f32>(o + <usize>(4 + c) * step, sigmoid(load<f32>(col + q)));
    }
  }
}

/**
 * non_max_suppression's candidates for one image: pred ((4 + nc) × a, xywh + probabilities). Rows whose best class
 * probability is > conf (float32); multiLabel: every (anchor, class) with probability > conf, in (anchor, class)
 * order; otherwise the best class (first on ties). Writes boxes (xyxy), scores, cls and anchor (i32) per candidate;
 * capacity a·nc for multiLabel, else a. Returns the count.
 */
export function yoloCandidates(
  pred: usize, a: i32, nc: i32, conf: f32, multiLabel: i32, boxes: usize, scores: usize, cls: usize, anchor: usize,
): i32 {
  const step = <usize>a << 2;
  let k = 0;
  for (let i = 0; i < a; i++) {
    const col = pred + (<usize>i << 2);
    let best = load<f32>(col + 4 * step), bestC = 0;
    for (let c = 1; c < nc; c++) {
      const v = load<f32>(col + <usize>(4 + c) * step);
      if (v > best) { best = v; bestC = c; }
    }
    if (!(best > conf)) continue;
    const cx = load<f32>(col), cy = load<f32>(col + step);
    const hw = load<f32>(col + 2 * step) / <f32>2.0, hh = load<f32>(col + 3 * step) / <f32>2.0;
    const x1 = cx - hw, y1 = cy - hh, x2 = cx + hw, y2 = cy + hh;
    for (let c = 0; c < nc; c++) {
      let v: f32;
      if (multiLabel) {
        v = load<f32>(col + <usize>(4 + c) * step);
        if (!(v > conf)) continue;
      } else {
        if (c != bestC) continue;
        v = best;
      }
      const o = boxes + (<usize>k << 4);
      store<f32>(o, x1); store<f32>(o, y1, 4); store<f32>(o, x2, 8); store<f32>(o, y2, 12);
      store<f32>(scores + (<usize>k << 2), v);
      store<i32>(cls + (<usize>k << 2), c);
      store<i32>(anchor + (<usize>k << 2), i);
      k++;
    }
  }
  return k;
}
