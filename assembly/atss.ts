// ATSS assignment (mmdetection v3.1 `ATSSAssigner.assign`, topk 9 in GFL) for one image, float32 as upstream:
//   overlaps = bbox_overlaps(anchors, gts) (eps 1e-6 as a floor on the union);
//   distances = sqrt(dx² + dy²) between anchor and gt centres ((x1 + x2)/2);
//   per gt and level: the min(topk, n_level) anchors nearest the gt centre are candidates;
//   thr = mean + unbiased std of the candidates' IoUs (float64 sums, rounded to float32, added in float32);
//   positive iff IoU ≥ thr and min(cx − x1, cy − y1, x2 − cx, y2 − cy) > 0.01f;
//   an anchor positive for several gts takes the highest IoU, exact ties the lowest gt index; no fallback.
// Tie rule for candidates: equal distances are taken in ascending anchor order (torch.topk leaves this to
// libstdc++'s nth_element/partial_sort; see the README).

const MARGIN: f32 = 0.01;
const NEG_INF: f32 = -100000000.0; // upstream's -INF sentinel for max_overlaps

/**
 * anchors n×4, levels: numLevels i32 anchor counts (summing to n, level-major), gts g×4.
 * Writes overlaps (n×g f32, row = anchor) and distances (g×n f32, row = gt), candidate and positive flags (n×g u8, 0 pointer: not
 * wanted), per-gt mean, std, thr (3×g f32), assigned (n i32: 0-based gt or −1) and maxOverlaps (n f32: the IoU for
 * positives, −1e8 for the others, 0 everywhere when g = 0). `cand`: numLevels·topk i32 scratch, `candD`: topk f32.
 * Returns the number of positive anchors.
 */
export function atssAssign(
  anchors: usize, n: i32, levels: usize, numLevels: i32, gts: usize, g: i32, topk: i32,
  overlaps: usize, distances: usize, candidate: usize, positive: usize, stats: usize,
  cand: usize, candD: usize, assigned: usize, maxOverlaps: usize,
): i32 {
  if (g <= 0) {
    for (let i = 0; i < n; i++) {
      store<i32>(assigned + (<usize>i << 2), -1);
      store<f32>(maxOverlaps + (<usize>i << 2), 0);
    }
    return 0;
  }
  // IoU and centre distance of every (anchor, gt)
  for (let i = 0; i < n; i++) {
    const a = anchors + (<usize>i << 4);
    const ax1 = load<f32>(a), ay1 = load<f32>(a, 4), ax2 = load<f32>(a, 8), ay2 = load<f32>(a, 12);
    const area1 = (ax2 - ax1) * (ay2 - ay1);
    const acx = (ax1 + ax2) / <f32>2.0, acy = (ay1 + ay2) / <f32>2.0;
    for (let j = 0; j < g; j++) {
      const b = gts + (<usize>j << 4);
      const bx1 = load<f32>(b), by1 = load<f32>(b, 4), bx2 = load<f32>(b, 8), by2 = load<f32>(b, 12);
      const area2 = (bx2 - bx1) * (by2 - by1);
      const w0 = min(ax2, bx2) - max(ax1, bx1), h0 = min(ay2, by2) - max(ay1, by1);
      const w: f32 = w0 > 0 ? w0 : 0, h: f32 = h0 > 0 ? h0 : 0;
      const overlap = w * h;
      let union = area1 + area2 - overlap;
      if (!(union >= <f32>1e-6)) union = <f32>1e-6 > union ? <f32>1e-6 : union; // torch.max(union, eps); NaN stays
      const k = (<usize>i * <usize>g + <usize>j) << 2;
      store<f32>(overlaps + k, overlap / union);
      const dx = acx - (bx1 + bx2) / <f32>2.0, dy = acy - (by1 + by2) / <f32>2.0;
      // gt-major, so that each gt's candidate pass below reads its distances contiguously
      store<f32>(distances + ((<usize>j * <usize>n + <usize>i) << 2), Mathf.sqrt(dx * dx + dy * dy));
    }
  }
  if (candidate) memory.fill(candidate, 0, <usize>n * <usize>g);
  if (positive) memory.fill(positive, 0, <usize>n * <usize>g);
  for (let i = 0; i < n; i++) {
    store<i32>(assigned + (<usize>i << 2), -1);
    store<f32>(maxOverlaps + (<usize>i << 2), NEG_INF);
  }
  let numPos = 0;
  for (let j = 0; j < g; j++) {
    // candidates: per level the topk smallest distances, kept sorted (distance, then index) by insertion
    let total = 0, start = 0;
    for (let l = 0; l < numLevels; l++) {
      const nl = load<i32>(levels + (<usize>l << 2));
      const k = min(topk, nl);
      const base = cand + (<usize>total << 2);
      let have = 0;
      for (let i = start, end = start + nl; i < end; i++) {
        const d = load<f32>(distances + ((<usize>j * <usize>n + <usize>i) << 2));
        if (have == k && !(d < load<f32>(candD + (<usize>(k - 1) << 2)))) continue;
        let p = have < k ? have : k - 1;
        // shift larger distances up; equal ones (lower index) stay in front
        while (p > 0 && load<f32>(candD + (<usize>(p - 1) << 2)) > d) {
          store<f32>(candD + (<usize>p << 2), load<f32>(candD + (<usize>(p - 1) << 2)));
          store<i32>(base + (<usize>p << 2), load<i32>(base + (<usize>(p - 1) << 2)));
          p--;
        }
        store<f32>(candD + (<usize>p << 2), d);
        store<i32>(base + (<usize>p << 2), i);
        if (have < k) have++;
      }
      total += k;
      start += nl;
    }
    // threshold: mean + unbiased std of the candidates' IoUs
    let sum: f64 = 0;
    for (let c = 0; c < total; c++) {
      const i = load<i32>(cand + (<usize>c << 2));
      sum += <f64>load<f32>(overlaps + ((<usize>i * <usize>g + <usize>j) << 2));
    }
    const mean = sum / <f64>total;
    let ss: f64 = 0;
    for (let c = 0; c < total; c++) {
      const i = load<i32>(cand + (<usize>c << 2));
      const d = <f64>load<f32>(overlaps + ((<usize>i * <usize>g + <usize>j) << 2)) - mean;
      ss += d * d;
    }
    const mean32 = <f32>mean;
    const std32 = <f32>Math.sqrt(ss / <f64>(total - 1)); // NaN for a single candidate, as torch
    const thr = mean32 + std32;
    store<f32>(stats + (<usize>j << 2), mean32);
    store<f32>(stats + (<usize>(g + j) << 2), std32);
    store<f32>(stats + (<usize>(2 * g + j) << 2), thr);
    const b = gts + (<usize>j << 4);
    const bx1 = load<f32>(b), by1 = load<f32>(b, 4), bx2 = load<f32>(b, 8), by2 = load<f32>(b, 12);
    for (let c = 0; c < total; c++) {
      const i = load<i32>(cand + (<usize>c << 2));
      const k = <usize>i * <usize>g + <usize>j;
      if (candidate) store<u8>(candidate + k, 1);
      const a = anchors + (<usize>i << 4);
      const cx = (load<f32>(a) + load<f32>(a, 8)) / <f32>2.0, cy = (load<f32>(a, 4) + load<f32>(a, 12)) / <f32>2.0;
      const m = min(min(cx - bx1, cy - by1), min(bx2 - cx, by2 - cy));
      const iou = load<f32>(overlaps + (k << 2));
      if (!(iou >= thr && m > MARGIN)) continue;
      if (positive) store<u8>(positive + k, 1);
      // gts are visited in ascending order: strict > keeps the lowest gt index on an exact IoU tie
      const cur = load<f32>(maxOverlaps + (<usize>i << 2));
      if (iou > cur) {
        if (load<i32>(assigned + (<usize>i << 2)) < 0) numPos++;
        store<f32>(maxOverlaps + (<usize>i << 2), iou);
        store<i32>(assigned + (<usize>i << 2), j);
      }
    }
  }
  return numPos;
}
