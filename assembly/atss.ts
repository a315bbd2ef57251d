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
/** Anchors per block of the candidate search's skip test (a power of two). */
const BLOCK_SHIFT = 6;
const BLOCK = 1 << BLOCK_SHIFT;

/** Bytes of atssAssign's `soa` scratch for n anchors in numLevels levels: seven rows of n f32, then block bounds. */
// @ts-ignore: decorator
@inline function soaBytes(n: i32, numLevels: i32): usize {
  return <usize>n * 28 + <usize>((n >> BLOCK_SHIFT) + numLevels) * 16;
}
const NEG_INF: f32 = -100000000.0; // upstream's -INF sentinel for max_overlaps

/**
 * anchors n×4, levels: numLevels i32 anchor counts (summing to n, level-major), gts g×4.
 * Writes per-gt mean, std, thr (3×g f32), assigned (n i32: 0-based gt or −1) and maxOverlaps (n f32: the IoU for
 * positives, −1e8 for the others, 0 everywhere when g = 0). With `candidate` (the intermediates wanted), also every
 * IoU and centre distance (overlaps, distances: g×n f32 each, row = gt) and the candidate and positive flags (n×g u8);
 * without, only the candidates' IoUs are computed. `cand`: numLevels·topk i32 scratch, `candD`: 2·topk f32, `soa`:
 * soaBytes(n, numLevels) (the anchors' coordinates, centres and areas as seven rows, then the bounds of their centres
 * per block of BLOCK anchors). Returns the number of positive anchors.
 */
export function atssAssign(
  anchors: usize, n: i32, levels: usize, numLevels: i32, gts: usize, g: i32, topk: i32,
  overlaps: usize, distances: usize, candidate: usize, positive: usize, stats: usize,
  cand: usize, candD: usize, assigned: usize, maxOverlaps: usize, soa: usize,
): i32 {
  if (g <= 0) {
    for (let i = 0; i < n; i++) {
      store<i32>(assigned + (<usize>i << 2), -1);
      store<f32>(maxOverlaps + (<usize>i << 2), 0);
    }
    return 0;
  }
  // the anchors as rows x1, y1, x2, y2, cx, cy, area, so that four anchors load as one vector each
  const row = <usize>n << 2;
  for (let i = 0; i < n; i++) {
    const a = anchors + (<usize>i << 4), o = soa + (<usize>i << 2);
    const ax1 = load<f32>(a), ay1 = load<f32>(a, 4), ax2 = load<f32>(a, 8), ay2 = load<f32>(a, 12);
    store<f32>(o, ax1); store<f32>(o + row, ay1); store<f32>(o + 2 * row, ax2); store<f32>(o + 3 * row, ay2);
    store<f32>(o + 4 * row, (ax1 + ax2) / <f32>2.0); store<f32>(o + 5 * row, (ay1 + ay2) / <f32>2.0);
    store<f32>(o + 6 * row, (ax2 - ax1) * (ay2 - ay1));
  }
  // per level, the bounding box of every BLOCK consecutive anchors' centres (min cx, max cx, min cy, max cy)
  const bounds = soa + 7 * row;
  for (let l = 0, start = 0, bi = 0; l < numLevels; l++) {
    const nl = load<i32>(levels + (<usize>l << 2));
    for (let b0 = start; b0 < start + nl; b0 += BLOCK, bi++) {
      let x0: f32 = Infinity, x1: f32 = -Infinity, y0: f32 = Infinity, y1: f32 = -Infinity, finite = true;
      for (let i = b0, e = min(b0 + BLOCK, start + nl); i < e; i++) {
        const o = soa + (<usize>i << 2);
        const cx = load<f32>(o + 4 * row), cy = load<f32>(o + 5 * row);
        finite = finite && cx - cx == 0 && cy - cy == 0;
        x0 = min(x0, cx); x1 = max(x1, cx); y0 = min(y0, cy); y1 = max(y1, cy);
      }
      const bb = bounds + (<usize>bi << 4);
      // a block holding a NaN or ±∞ centre gets bounds that never let it be skipped
      store<f32>(bb, finite ? x0 : -Infinity); store<f32>(bb, finite ? x1 : Infinity, 4);
      store<f32>(bb, finite ? y0 : -Infinity, 8); store<f32>(bb, finite ? y1 : Infinity, 12);
    }
    start += nl;
  }
  if (candidate) {
    allPairs(soa, row, n, gts, g, overlaps, distances);
    memory.fill(candidate, 0, <usize>n * <usize>g);
    if (positive) memory.fill(positive, 0, <usize>n * <usize>g);
  }
  for (let i = 0; i < n; i++) {
    store<i32>(assigned + (<usize>i << 2), -1);
    store<f32>(maxOverlaps + (<usize>i << 2), NEG_INF);
  }
  const candD2 = candD + (<usize>topk << 2); // the candidates' squared distances, beside their distances
  let numPos = 0;
  for (let j = 0; j < g; j++) {
    const b = gts + (<usize>j << 4);
    const bx1 = load<f32>(b), by1 = load<f32>(b, 4), bx2 = load<f32>(b, 8), by2 = load<f32>(b, 12);
    const area2 = (bx2 - bx1) * (by2 - by1);
    const bcx = (bx1 + bx2) / <f32>2.0, bcy = (by1 + by2) / <f32>2.0;
    // candidates: per level the topk smallest distances, kept sorted (distance, then index) by insertion
    let total = 0, start = 0, blocks = 0;
    for (let l = 0; l < numLevels; l++) {
      const nl = load<i32>(levels + (<usize>l << 2));
      const k = min(topk, nl);
      const base = cand + (<usize>total << 2);
      const levelBounds = bounds + (<usize>blocks << 4);
      const cap = candidateCap(soa, row, levelBounds, start, nl, k, bcx, bcy, candD);
      let have = 0;
      for (let i = start, end = start + nl; i < end; i++) {
        if (((i - start) & (BLOCK - 1)) == 0) {
          // a whole block none of whose anchors can enter: its centres' bounding box gives a lower bound of their
          // squared distances (each term rounds monotonically, so the bound is at most every anchor's own d²)
          const lb = blockLowerBound(levelBounds + (<usize>((i - start) >> BLOCK_SHIFT) << 4), bcx, bcy);
          if (have == k ? !(lb < load<f32>(candD2 + (<usize>(k - 1) << 2))) : lb > cap) { i += BLOCK - 1; continue; }
        }
        if (ASC_FEATURE_SIMD && i + 4 <= end) {
          // four at a time while none of them can enter: sqrt is monotonic, so squared distances that are all at
          // least the k-th candidate's give distances that are all at least its distance; before k are found, all
          // beyond the cap
          const o = soa + (<usize>i << 2);
          const dx = f32x4.sub(v128.load(o + 4 * row), f32x4.splat(bcx));
          const dy = f32x4.sub(v128.load(o + 5 * row), f32x4.splat(bcy));
          const d2 = f32x4.add(f32x4.mul(dx, dx), f32x4.mul(dy, dy));
          if (have == k) {
            if (!v128.any_true(f32x4.lt(d2, f32x4.splat(load<f32>(candD2 + (<usize>(k - 1) << 2)))))) { i += 3; continue; }
          } else if (i32x4.all_true(f32x4.gt(d2, f32x4.splat(cap)))) { i += 3; continue; }
        }
        const d2 = pairDistanceSq(soa, row, i, bcx, bcy);
        if (have < k && d2 > cap) continue;
        const d = Mathf.sqrt(d2);
        if (have == k && !(d < load<f32>(candD + (<usize>(k - 1) << 2)))) continue;
        let p = have < k ? have : k - 1;
        // shift larger distances up; equal ones (lower index) stay in front
        while (p > 0 && load<f32>(candD + (<usize>(p - 1) << 2)) > d) {
          store<f32>(candD + (<usize>p << 2), load<f32>(candD + (<usize>(p - 1) << 2)));
          store<f32>(candD2 + (<usize>p << 2), load<f32>(candD2 + (<usize>(p - 1) << 2)));
          store<i32>(base + (<usize>p << 2), load<i32>(base + (<usize>(p - 1) << 2)));
          p--;
        }
        store<f32>(candD + (<usize>p << 2), d);
        store<f32>(candD2 + (<usize>p << 2), d2);
        store<i32>(base + (<usize>p << 2), i);
        if (have < k) have++;
      }
      total += k;
      start += nl;
      blocks += (nl + BLOCK - 1) >> BLOCK_SHIFT;
    }
    // threshold: mean + unbiased std of the candidates' IoUs
    let sum: f64 = 0;
    for (let c = 0; c < total; c++) {
      sum += <f64>pairIou(soa, row, load<i32>(cand + (<usize>c << 2)), bx1, by1, bx2, by2, area2);
    }
    const mean = sum / <f64>total;
    let ss: f64 = 0;
    for (let c = 0; c < total; c++) {
      const d = <f64>pairIou(soa, row, load<i32>(cand + (<usize>c << 2)), bx1, by1, bx2, by2, area2) - mean;
      ss += d * d;
    }
    const mean32 = <f32>mean;
    const std32 = <f32>Math.sqrt(ss / <f64>(total - 1)); // NaN for a single candidate, as torch
    const thr = mean32 + std32;
    store<f32>(stats + (<usize>j << 2), mean32);
    store<f32>(stats + (<usize>(g + j) << 2), std32);
    store<f32>(stats + (<usize>(2 * g + j) << 2), thr);
    for (let c = 0; c < total; c++) {
      const i = load<i32>(cand + (<usize>c << 2));
      const k = <usize>i * <usize>g + <usize>j;
      if (candidate) store<u8>(candidate + k, 1);
      const o = soa + (<usize>i << 2);
      const cx = load<f32>(o + 4 * row), cy = load<f32>(o + 5 * row);
      const m = min(min(cx - bx1, cy - by1), min(bx2 - cx, by2 - cy));
      const iou = pairIou(soa, row, i, bx1, by1, bx2, by2, area2);
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

/**
 * atssAssign for `rows` images that share one anchor set (every anchor valid), one image per row: per image, gts
 * (maxG × 4; the first gtCount[r] are real) and its own stats (3·maxG f32), cand (numLevels·topk i32), candD (2·topk
 * f32), assigned and maxOverlaps (n each) and soa (soaBytes(n, numLevels)). No intermediates. Returns the number of positives.
 */
export function atssAssignBatch(
  anchors: usize, n: i32, levels: usize, numLevels: i32, gts: usize, gtCount: usize, maxG: i32, topk: i32,
  stats: usize, cand: usize, candD: usize, assigned: usize, maxOverlaps: usize, soa: usize, rows: i32,
): f64 {
  let total: f64 = 0;
  for (let r = 0; r < rows; r++) {
    const ri = <usize>r;
    total += <f64>atssAssign(
      anchors, n, levels, numLevels, gts + ri * <usize>maxG * 16, load<i32>(gtCount + (ri << 2)), topk, 0, 0, 0, 0,
      stats + ri * <usize>maxG * 12, cand + ri * <usize>(numLevels * topk) * 4, candD + ri * <usize>topk * 8,
      assigned + ri * <usize>n * 4, maxOverlaps + ri * <usize>n * 4, soa + ri * soaBytes(n, numLevels),
    );
  }
  return total;
}

/** bbox_overlaps of anchor i (from the `soa` rows) and one gt: overlap / max(union, 1e-6) in float32. */
// @ts-ignore: decorator
@inline function pairIou(soa: usize, row: usize, i: i32, bx1: f32, by1: f32, bx2: f32, by2: f32, area2: f32): f32 {
  const o = soa + (<usize>i << 2);
  const w0 = min(load<f32>(o + 2 * row), bx2) - max(load<f32>(o), bx1);
  const h0 = min(load<f32>(o + 3 * row), by2) - max(load<f32>(o + row), by1);
  const w: f32 = w0 > 0 ? w0 : 0, h: f32 = h0 > 0 ? h0 : 0;
  const overlap = w * h;
  let union = load<f32>(o + 6 * row) + area2 - overlap;
  if (union < <f32>1e-6) union = 1e-6; // torch.max(union, eps); NaN stays
  return overlap / union;
}

/** Squared distance between anchor i's centre and a gt centre; its float32 sqrt is upstream's distance. */
// @ts-ignore: decorator
@inline function pairDistanceSq(soa: usize, row: usize, i: i32, bcx: f32, bcy: f32): f32 {
  const o = soa + (<usize>i << 2);
  const dx = load<f32>(o + 4 * row) - bcx, dy = load<f32>(o + 5 * row) - bcy;
  return dx * dx + dy * dy;
}

/** Lower bound of the squared distance from (bcx, bcy) to every centre of a block, from its bounds at bb. */
// @ts-ignore: decorator
@inline function blockLowerBound(bb: usize, bcx: f32, bcy: f32): f32 {
  const x0 = load<f32>(bb), x1 = load<f32>(bb, 4), y0 = load<f32>(bb, 8), y1 = load<f32>(bb, 12);
  const dx: f32 = bcx < x0 ? x0 - bcx : bcx > x1 ? x1 - bcx : 0;
  const dy: f32 = bcy < y0 ? y0 - bcy : bcy > y1 ? y1 - bcy : 0;
  return dx * dx + dy * dy;
}

/**
 * An upper bound on the squared distance of a level's k-th candidate, so that the scan in anchor order can pass over
 * anchors that cannot be among the k nearest before it has found k (scanning toward the gt centre would otherwise
 * insert nearly every anchor it meets). From the block nearest the centre: when it holds k anchors with finite
 * distances, the k-th smallest of their d² times (1 + 2⁻²⁰) — the margin keeps every anchor whose distance (sqrt,
 * rounded) could tie the k-th's, since equal distances are ordered by anchor index. +∞ otherwise. `tmp`: k f32.
 */
function candidateCap(soa: usize, row: usize, levelBounds: usize, start: i32, nl: i32, k: i32, bcx: f32, bcy: f32, tmp: usize): f32 {
  if (k <= 0) return Infinity; // an empty level
  const nb = (nl + BLOCK - 1) >> BLOCK_SHIFT;
  let best = 0;
  let bestLb: f32 = Infinity;
  for (let t = 0; t < nb; t++) {
    const lb = blockLowerBound(levelBounds + (<usize>t << 4), bcx, bcy);
    if (lb < bestLb) { bestLb = lb; best = t; }
  }
  const s0 = start + (best << BLOCK_SHIFT), s1 = min(s0 + BLOCK, start + nl);
  if (s1 - s0 < k) return Infinity;
  // the k smallest d² of the block, kept sorted in tmp
  let have = 0;
  for (let i = s0; i < s1; i++) {
    const d2 = pairDistanceSq(soa, row, i, bcx, bcy);
    if (!(have < k ? d2 == d2 : d2 < load<f32>(tmp + (<usize>(k - 1) << 2)))) continue;
    let p = have < k ? have : k - 1;
    while (p > 0 && load<f32>(tmp + (<usize>(p - 1) << 2)) > d2) {
      store<f32>(tmp + (<usize>p << 2), load<f32>(tmp + (<usize>(p - 1) << 2)));
      p--;
    }
    store<f32>(tmp + (<usize>p << 2), d2);
    if (have < k) have++;
  }
  return have < k ? Infinity : load<f32>(tmp + (<usize>(k - 1) << 2)) * CAP_MARGIN;
}

/** 1 + 2⁻²⁰: far above sqrt's rounding (2⁻²⁴ relative), far below the gaps between distinct anchor distances. */
const CAP_MARGIN: f32 = 1.00000095367431640625;

/** Every IoU and centre distance (the intermediates), gt-major, four anchors at a time; the same bits as pairIou. */
function allPairs(soa: usize, row: usize, n: i32, gts: usize, g: i32, overlaps: usize, distances: usize): void {
  for (let j = 0; j < g; j++) {
    const b = gts + (<usize>j << 4);
    const bx1 = load<f32>(b), by1 = load<f32>(b, 4), bx2 = load<f32>(b, 8), by2 = load<f32>(b, 12);
    const area2 = (bx2 - bx1) * (by2 - by1);
    const bcx = (bx1 + bx2) / <f32>2.0, bcy = (by1 + by2) / <f32>2.0;
    const ov = overlaps + <usize>j * row, di = distances + <usize>j * row;
    let i = 0;
    if (ASC_FEATURE_SIMD) {
      const zero = f32x4.splat(0), eps = f32x4.splat(1e-6);
      const vx1 = f32x4.splat(bx1), vy1 = f32x4.splat(by1), vx2 = f32x4.splat(bx2), vy2 = f32x4.splat(by2);
      const va2 = f32x4.splat(area2), vcx = f32x4.splat(bcx), vcy = f32x4.splat(bcy);
      for (; i + 4 <= n; i += 4) {
        const o = soa + (<usize>i << 2);
        const w0 = f32x4.sub(f32x4.min(v128.load(o + 2 * row), vx2), f32x4.max(v128.load(o), vx1));
        const h0 = f32x4.sub(f32x4.min(v128.load(o + 3 * row), vy2), f32x4.max(v128.load(o + row), vy1));
        const w = v128.and(w0, f32x4.gt(w0, zero)), h = v128.and(h0, f32x4.gt(h0, zero));
        const overlap = f32x4.mul(w, h);
        const u = f32x4.sub(f32x4.add(v128.load(o + 6 * row), va2), overlap);
        const union = v128.bitselect(eps, u, f32x4.lt(u, eps)); // torch.max(union, eps); NaN stays
        v128.store(ov + (<usize>i << 2), f32x4.div(overlap, union));
        const dx = f32x4.sub(v128.load(o + 4 * row), vcx), dy = f32x4.sub(v128.load(o + 5 * row), vcy);
        v128.store(di + (<usize>i << 2), f32x4.sqrt(f32x4.add(f32x4.mul(dx, dx), f32x4.mul(dy, dy))));
      }
    }
    for (; i < n; i++) {
      store<f32>(ov + (<usize>i << 2), pairIou(soa, row, i, bx1, by1, bx2, by2, area2));
      store<f32>(di + (<usize>i << 2), Mathf.sqrt(pairDistanceSq(soa, row, i, bcx, bcy)));
    }
  }
}
