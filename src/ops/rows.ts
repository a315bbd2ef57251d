// Row copies between the caller's arrays and gfloss memory for the positives passes. Narrow rows (boxes, strides) as
// plain loops: a subarray() per row allocates a view object, which costs more than copying four numbers; wide rows
// (box distributions, 4·bins floats) with one set() each, whose memcpy beats the loop.

/** dst[k·width …] = src[rows[k]·width …] for every k. */
export function gatherRows(src: Float32Array, rows: Int32Array, width: number, dst: Float32Array): void {
  if (width >= WIDE) {
    for (let k = 0; k < rows.length; k++) dst.set(src.subarray(rows[k] * width, (rows[k] + 1) * width), k * width);
    return;
  }
  for (let k = 0, o = 0; k < rows.length; k++) {
    for (let j = 0, s = rows[k] * width; j < width; j++) dst[o++] = src[s + j];
  }
}

/** Rows at least this wide are copied with one set() each (a memcpy; its view object costs less than the loop). */
const WIDE = 32;

/**
 * dst[k] = max over src[rows[k]·width …], NaN if the row holds one; of two zeros either may come out (the callers
 * take a sigmoid of it, which is 0.5 for both). Four running maxima per row, so the loop is not one long chain.
 */
export function rowMaxima(src: Float32Array, rows: Int32Array, width: number, dst: Float32Array): void {
  for (let k = 0; k < rows.length; k++) {
    const s = rows[k] * width, e = s + width;
    let m0 = -Infinity, m1 = -Infinity, m2 = -Infinity, m3 = -Infinity, nan = 0;
    let j = s;
    for (; j + 4 <= e; j += 4) {
      const a = src[j], b = src[j + 1], c = src[j + 2], d = src[j + 3];
      m0 = a > m0 ? a : m0; m1 = b > m1 ? b : m1; m2 = c > m2 ? c : m2; m3 = d > m3 ? d : m3;
      nan += a + b + c + d; // NaN stays NaN; ±∞ are fine, the sum is only tested for NaN
    }
    for (; j < e; j++) { const a = src[j]; m0 = a > m0 ? a : m0; nan += a; }
    const m = Math.max(m0, m1, m2, m3);
    // ∞ + −∞ is NaN too: only then look again, element by element
    dst[k] = nan === nan || !rowHasNaN(src, s, e) ? m : NaN;
  }
}

function rowHasNaN(src: Float32Array, s: number, e: number): boolean {
  for (let j = s; j < e; j++) if (src[j] !== src[j]) return true;
  return false;
}

/** dst[rows[k]·width …] = src[k·width …] for every k (the other rows of dst are left as they are). */
function scatterRows(src: Float32Array, rows: Int32Array, width: number, dst: Float32Array): void {
  if (width >= WIDE) {
    for (let k = 0; k < rows.length; k++) dst.set(src.subarray(k * width, (k + 1) * width), rows[k] * width);
    return;
  }
  for (let k = 0, o = 0; k < rows.length; k++) {
    for (let j = 0, d = rows[k] * width; j < width; j++) dst[d + j] = src[o++];
  }
}

/** The rows i with lo ≤ labels[i] < hi (a head's positives), ascending. */
export function rowsWithLabelIn(labels: Int32Array, lo: number, hi: number): Int32Array {
  let count = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] >= lo && labels[i] < hi) count++;
  const rows = new Int32Array(count);
  for (let i = 0, k = 0; k < count; i++) if (labels[i] >= lo && labels[i] < hi) rows[k++] = i;
  return rows;
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
 * The dense gradient of all rows of `dst` from the compact rows of the positives: zero everywhere else. `zeroed`: dst
 * is known to hold zeros already (a new array), so only the positives' rows are written.
 */
export function expandRows(src: Float32Array, rows: Int32Array, width: number, dst: Float32Array, zeroed: boolean): Float32Array {
  if (!zeroed) dst.fill(0);
  scatterRows(src, rows, width, dst);
  return dst;
}
