// Row copies between the caller's arrays and gfloss memory for the positives passes, as plain loops: a subarray() per
// row allocates a view object, which at thousands of positives per call costs more than the copy and feeds the GC.

/** dst[k·width …] = src[rows[k]·width …] for every k. */
export function gatherRows(src: Float32Array, rows: Int32Array, width: number, dst: Float32Array): void {
  for (let k = 0, o = 0; k < rows.length; k++) {
    for (let j = 0, s = rows[k] * width; j < width; j++) dst[o++] = src[s + j];
  }
}

/** dst[rows[k]·width …] = src[k·width …] for every k (the other rows of dst are left as they are). */
export function scatterRows(src: Float32Array, rows: Int32Array, width: number, dst: Float32Array): void {
  for (let k = 0, o = 0; k < rows.length; k++) {
    for (let j = 0, d = rows[k] * width; j < width; j++) dst[d + j] = src[o++];
  }
}
