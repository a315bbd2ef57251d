// Stable, deterministic sorting of index lists by float32 keys, without allocation: the caller passes the scratch.
// Every sort of the assignment / NMS kernels goes through here, so their tie rule is one rule: equal keys keep
// their input order (lower index first), which is what torchvision's NMS (a stable sort) and torch's CPU sort on
// small or tie-free inputs do.

/** key of index i */
// @ts-ignore: decorator
@inline function key(keys: usize, i: i32): f32 {
  return load<f32>(keys + (<usize>i << 2));
}

/**
 * Sorts the n indices at `idx` (i32) by keys[idx] descending; equal keys keep their order. `tmp`: n i32.
 * Insertion sort on runs of 16, then bottom-up merges that alternate between idx and tmp.
 */
export function sortIndicesDesc(idx: usize, keys: usize, n: i32, tmp: usize): void {
  const RUN = 16;
  for (let lo = 0; lo < n; lo += RUN) {
    const hi = min(lo + RUN, n);
    for (let i = lo + 1; i < hi; i++) {
      const v = load<i32>(idx + (<usize>i << 2));
      const kv = key(keys, v);
      let j = i - 1;
      // strict: an equal key stays after the earlier one
      while (j >= lo && key(keys, load<i32>(idx + (<usize>j << 2))) < kv) {
        store<i32>(idx + (<usize>(j + 1) << 2), load<i32>(idx + (<usize>j << 2)));
        j--;
      }
      store<i32>(idx + (<usize>(j + 1) << 2), v);
    }
  }
  let src = idx, dst = tmp;
  for (let width = RUN; width < n; width <<= 1) {
    for (let lo = 0; lo < n; lo += width << 1) {
      const mid = min(lo + width, n), hi = min(lo + (width << 1), n);
      let a = lo, b = mid, o = lo;
      while (a < mid && b < hi) {
        const ia = load<i32>(src + (<usize>a << 2)), ib = load<i32>(src + (<usize>b << 2));
        // take the right run only when strictly greater: ties keep the left (earlier) element first
        if (key(keys, ib) > key(keys, ia)) { store<i32>(dst + (<usize>o << 2), ib); b++; }
        else { store<i32>(dst + (<usize>o << 2), ia); a++; }
        o++;
      }
      while (a < mid) { store<i32>(dst + (<usize>o << 2), load<i32>(src + (<usize>a << 2))); a++; o++; }
      while (b < hi) { store<i32>(dst + (<usize>o << 2), load<i32>(src + (<usize>b << 2))); b++; o++; }
    }
    const t = src; src = dst; dst = t;
  }
  if (src != idx) memory.copy(idx, src, <usize>n << 2);
}

/** Writes 0 .. n−1 to idx (i32). */
export function iota(idx: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<i32>(idx + (<usize>i << 2), i);
}
