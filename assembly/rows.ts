// Row gathers within gfloss memory: the compact rows of a few selected rows (a head's positives) out of a dense
// buffer that already lives here (a zero-copy input), instead of a copy of the whole buffer or a gather in JavaScript.

/** dst[k·width …] = src[index[k]·width …] for k < rows; index holds i32 row numbers. */
export function gatherRows(src: usize, index: usize, width: i32, dst: usize, rows: i32): void {
  const rowBytes = <usize>width << 2;
  for (let k = 0; k < rows; k++) {
    const i = <usize>load<i32>(index + (<usize>k << 2));
    memory.copy(dst + <usize>k * rowBytes, src + i * rowBytes, rowBytes);
  }
}
