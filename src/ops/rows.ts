// Row copies between the caller's arrays and gfloss memory for the positives passes. The rows are picked out of
// arrays of tens of megabytes, so each row is a cache (and TLB) miss: four rows are copied interleaved, element by
// element, which keeps four misses in flight (about 1.6× faster than one set() per row at b8, cold cache). Narrow
// rows (boxes, strides) as one plain loop.
import type { WasmRuntime } from '../wasm/runtime.js';

/** dst[k·width …] = src[rows[k]·width …] for every k. */
export function gatherRows(src: Float32Array, rows: Int32Array, width: number, dst: Float32Array): void {
  moveRows(src, dst, rows, width, false);
}

/** dst[rows[k]·width …] = src[k·width …] for every k (the other rows of dst are left as they are). */
function scatterRows(src: Float32Array, rows: Int32Array, width: number, dst: Float32Array): void {
  moveRows(src, dst, rows, width, true);
}

/** Rows at least this wide are copied four at a time. */
const WIDE = 16;

/** Row k of the compact side is row rows[k] of the dense side; `scatter` says which side is the destination. */
function moveRows(src: Float32Array, dst: Float32Array, rows: Int32Array, width: number, scatter: boolean): void {
  let k = 0;
  if (width >= WIDE) {
    for (; k + 4 <= rows.length; k += 4) {
      const r0 = rows[k] * width, r1 = rows[k + 1] * width, r2 = rows[k + 2] * width, r3 = rows[k + 3] * width;
      const c0 = k * width, c1 = c0 + width, c2 = c1 + width, c3 = c2 + width;
      const s0 = scatter ? c0 : r0, s1 = scatter ? c1 : r1, s2 = scatter ? c2 : r2, s3 = scatter ? c3 : r3;
      const d0 = scatter ? r0 : c0, d1 = scatter ? r1 : c1, d2 = scatter ? r2 : c2, d3 = scatter ? r3 : c3;
      for (let j = 0; j < width; j++) {
        dst[d0 + j] = src[s0 + j]; dst[d1 + j] = src[s1 + j]; dst[d2 + j] = src[s2 + j]; dst[d3 + j] = src[s3 + j];
      }
    }
  }
  for (; k < rows.length; k++) {
    const r = rows[k] * width, c = k * width, s = scatter ? c : r, d = scatter ? r : c;
    for (let j = 0; j < width; j++) dst[d + j] = src[s + j];
  }
}

/** Scratch of rowsWithLabelIn, kept between calls (it only grows). */
let candidates = new Int32Array(0);

/**
 * The rows i with lo ≤ labels[i] < hi (a head's positives), ascending. One pass without branches: every row index
 * is written to the next free slot of a scratch array, which advances only when the row qualifies (a positive falls
 * at random among the rows, so a branch on it would be mispredicted at each one).
 */
export function rowsWithLabelIn(labels: Int32Array, lo: number, hi: number): Int32Array {
  const n = labels.length, span = hi - lo;
  if (candidates.length < n) candidates = new Int32Array(n);
  const slot = candidates;
  let k = 0;
  for (let i = 0; i < n; i++) {
    slot[k] = i;
    k += ((labels[i] - lo) >>> 0) < span ? 1 : 0;
  }
  return slot.slice(0, k);
}

/** dst[i] = scale·src[i]. */
export function scaledInto(src: Float32Array, scale: number, dst: Float32Array): void {
  for (let i = 0; i < src.length; i++) dst[i] = scale * src[i];
}

/** dst[rows[k]] = src[k] for every k. */
export function scatterValues(src: Float32Array, rows: Int32Array, dst: Float32Array): void {
  for (let k = 0; k < rows.length; k++) dst[rows[k]] = src[k];
}

/**
 * The dense gradient of all rows of `dst` from the compact rows `src` (a view into gfloss memory) of the positives
 * `rows` (ascending; `rowsPtr`, their copy in gfloss memory): zero everywhere else. `zeroed`: dst is known to hold
 * zeros already (a new array), so only the positives' rows are written. A `dst` in gfloss memory (zero-copy) is
 * written by one wasm pass in row order.
 */
export function expandRows(
  rt: WasmRuntime, src: Float32Array, rows: Int32Array, rowsPtr: number, width: number, dst: Float32Array, zeroed: boolean,
): Float32Array {
  if (rt.owns(dst)) {
    rt.kernels.expandRows(dst.byteOffset, src.byteOffset, rowsPtr, rows.length, dst.length / width, width);
    return dst;
  }
  if (!zeroed) dst.fill(0);
  scatterRows(src, rows, width, dst);
  return dst;
}
