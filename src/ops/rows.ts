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
 * dst[k] = max over src[rows[k]·width …] (Math.max: NaN propagates and +0 beats −0, as wasm's f32.max; exact for
 * float32 values). Reads the rows once and writes one number per row.
 */
export function rowMaxima(src: Float32Array, rows: Int32Array, width: number, dst: Float32Array): void {
  for (let k = 0; k < rows.length; k++) {
    let m = -Infinity;
    for (let j = 0, s = rows[k] * width; j < width; j++) m = Math.max(m, src[s + j]);
    dst[k] = m;
  }
}

/** dst[rows[k]·width …] = src[k·width …] for every k (the other rows of dst are left as they are). */
function scatterRows(src: Float32Array, rows: Int32Array, width: number, dst: Float32Array): void {
  for (let k = 0, o = 0; k < rows.length; k++) {
    for (let j = 0, d = rows[k] * width; j < width; j++) dst[d + j] = src[o++];
  }
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
