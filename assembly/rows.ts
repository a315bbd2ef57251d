// Bulk writes of gfloss memory for the JavaScript side. On a view of shared memory, JavaScript's TypedArray fill()
// stores element by element: zeroing 18 MB took 1.3–2.1 ms there, against 0.34 ms for wasm's memory.fill (Node 20,
// this machine, warm cache). zeroBytes is that memory.fill; expandRows writes zeros and rows by vector stores.

/** Sets `bytes` bytes from ptr to zero. */
export function zeroBytes(ptr: usize, bytes: usize): void {
  memory.fill(ptr, 0, bytes);
}

/**
 * Dense rows from compact ones, in one pass in row order: row index[k] of dst (rows × width floats) gets row k of src,
 * and every other row of dst is set to zero. `index` must be ascending without repeats (the positives of a head).
 * Writing the zeros and the rows in one sweep touches each destination line once, where a fill followed by a scatter
 * would miss the cache twice on every positive's row.
 */
export function expandRows(dst: usize, src: usize, index: usize, count: i32, rows: i32, width: i32): void {
  const rowBytes = <usize>width << 2;
  let at = dst; // the first byte not written yet
  for (let k = 0; k < count; k++) {
    const row = dst + <usize>load<i32>(index + (<usize>k << 2)) * rowBytes;
    zeroRange(at, row);
    copyRow(row, src + <usize>k * rowBytes, rowBytes);
    at = row + rowBytes;
  }
  zeroRange(at, dst + <usize>rows * rowBytes);
}

/**
 * Zeros [from, to) (a multiple of 4 bytes). A loop of stores, not memory.fill: at b8 (3,360 positives, a fill and a
 * copy per positive) the GFL head's side work around expandRows took 1.14 ms per call this way, 1.37 ms with
 * memory.fill and memory.copy.
 */
// @ts-ignore: decorator
@inline function zeroRange(from: usize, to: usize): void {
  let p = from;
  if (ASC_FEATURE_SIMD) {
    const z = i32x4.splat(0);
    for (; p + 64 <= to; p += 64) {
      v128.store(p, z); v128.store(p, z, 16); v128.store(p, z, 32); v128.store(p, z, 48);
    }
    for (; p + 16 <= to; p += 16) v128.store(p, z);
  } else {
    for (; p + 8 <= to; p += 8) store<u64>(p, 0);
  }
  for (; p < to; p += 4) store<u32>(p, 0);
}

/** Copies one row of `bytes` (a multiple of 4) from src to dst; as zeroRange, by loads and stores. */
// @ts-ignore: decorator
@inline function copyRow(dst: usize, src: usize, bytes: usize): void {
  let o: usize = 0;
  if (ASC_FEATURE_SIMD) {
    for (; o + 16 <= bytes; o += 16) v128.store(dst + o, v128.load(src + o));
  } else {
    for (; o + 8 <= bytes; o += 8) store<u64>(dst + o, load<u64>(src + o));
  }
  for (; o < bytes; o += 4) store<u32>(dst + o, load<u32>(src + o));
}
