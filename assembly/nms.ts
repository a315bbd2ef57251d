// Greedy NMS as torchvision's CPU kernel (`torchvision.ops.nms`, which both mmcv's batched_nms glue in the goldens and
// ultralytics call), with the class-offset trick of the callers:
//   order = stable sort of the scores, descending (ties: lower index first);
//   visit in that order; a box not yet suppressed is kept and suppresses every later box j with IoU > thr, where
//   IoU = inter / (area_i + area_j − inter) in float32 and thr is compared as a double (0.6f IoU = 0.60000002 > 0.6).
//   A NaN IoU (two identical zero-area boxes) suppresses nothing.
// Offsets (float32, part of the result because they round coordinates):
//   mode 0: none (class-agnostic);  mode 1: mmcv batched_nms, label · (max over all coordinates + 1);
//   mode 2: ultralytics, label · scale (max_wh = 7680).
// `sameLabelOnly`: suppress only within a label (mmcv's split path for ≥ split_thr boxes, which runs NMS per class on
// the offset boxes; with the offset trick the two agree unless offset boxes of different classes overlap).

import { sortIndicesDesc, iota } from "./sort";

/**
 * boxes n×4 xyxy, scores n, labels n (i32; 0 = none when mode is 0). Writes the offset boxes to `boxesForNms` (n×4),
 * the candidates' order to `order` (n i32; scratch `tmp` n i32), and the kept input indices, in visiting order, to
 * `keep`. Only the first `maxCandidates` boxes in score order take part (≤ 0: all; ultralytics' max_nms); stops after
 * `maxKeep` kept boxes (≤ 0: no limit). `suppressed`: n bytes of scratch. Returns the number kept.
 */
export function nms(
  boxes: usize, scores: usize, labels: usize, n: i32, mode: i32, scale: f32, iouThr: f64, sameLabelOnly: i32,
  maxCandidates: i32, maxKeep: i32, boxesForNms: usize, order: usize, tmp: usize, suppressed: usize, keep: usize,
): i32 {
  if (n <= 0) return 0;
  let s: f32 = 0;
  if (mode == 1) {
    let m = load<f32>(boxes);
    for (let i = 1, e = n << 2; i < e; i++) {
      const v = load<f32>(boxes + (<usize>i << 2));
      if (v > m || v != v) m = v; // torch.max propagates NaN
    }
    s = m + <f32>1.0;
  } else if (mode == 2) {
    s = scale;
  }
  for (let i = 0; i < n; i++) {
    const off: f32 = mode == 0 ? 0 : <f32>load<i32>(labels + (<usize>i << 2)) * s;
    const p = boxes + (<usize>i << 4), q = boxesForNms + (<usize>i << 4);
    if (mode == 0) {
      memory.copy(q, p, 16);
    } else {
      store<f32>(q, load<f32>(p) + off);
      store<f32>(q, load<f32>(p, 4) + off, 4);
      store<f32>(q, load<f32>(p, 8) + off, 8);
      store<f32>(q, load<f32>(p, 12) + off, 12);
    }
  }
  iota(order, n);
  sortIndicesDesc(order, scores, n, tmp);
  const m = maxCandidates > 0 && maxCandidates < n ? maxCandidates : n;
  // areas in tmp (the sort is done with it), indexed by input row
  for (let i = 0; i < n; i++) {
    const q = boxesForNms + (<usize>i << 4);
    store<f32>(tmp + (<usize>i << 2), (load<f32>(q, 8) - load<f32>(q)) * (load<f32>(q, 12) - load<f32>(q, 4)));
  }
  memory.fill(suppressed, 0, <usize>n);
  let kept = 0;
  for (let a = 0; a < m; a++) {
    const i = load<i32>(order + (<usize>a << 2));
    if (load<u8>(suppressed + <usize>i)) continue;
    store<i32>(keep + (<usize>kept << 2), i);
    kept++;
    if (maxKeep > 0 && kept >= maxKeep) break;
    const qi = boxesForNms + (<usize>i << 4);
    const ix1 = load<f32>(qi), iy1 = load<f32>(qi, 4), ix2 = load<f32>(qi, 8), iy2 = load<f32>(qi, 12);
    const iarea = load<f32>(tmp + (<usize>i << 2));
    const li = sameLabelOnly ? load<i32>(labels + (<usize>i << 2)) : 0;
    for (let b = a + 1; b < m; b++) {
      const j = load<i32>(order + (<usize>b << 2));
      if (load<u8>(suppressed + <usize>j)) continue;
      if (sameLabelOnly && load<i32>(labels + (<usize>j << 2)) != li) continue;
      const qj = boxesForNms + (<usize>j << 4);
      const xx1 = max(ix1, load<f32>(qj)), yy1 = max(iy1, load<f32>(qj, 4));
      const xx2 = min(ix2, load<f32>(qj, 8)), yy2 = min(iy2, load<f32>(qj, 12));
      const w0 = xx2 - xx1, h0 = yy2 - yy1;
      const w: f32 = w0 > 0 ? w0 : 0, h: f32 = h0 > 0 ? h0 : 0;
      const inter = w * h;
      const ovr = inter / (iarea + load<f32>(tmp + (<usize>j << 2)) - inter);
      if (<f64>ovr > iouThr) store<u8>(suppressed + <usize>j, 1);
    }
  }
  return kept;
}
