// What the runtime supports, detected once by validating tiny modules (no compilation of the kernels).

/** A module with one v128 instruction (i8x16.splat + i8x16.popcnt style probe, the same bytes as wasm-feature-detect). */
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
/** A module with one atomic instruction on a shared memory. */
const THREADS_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 4, 1, 3, 1, 1, 10, 11, 1, 9, 0, 65, 0, 254, 16, 2, 0, 26, 11]);

export interface Capabilities {
  /** WebAssembly is available at all. */
  wasm: boolean;
  /** 128-bit SIMD validates. */
  simd: boolean;
  /** Atomics on shared memory validate, SharedArrayBuffer exists, and (in browsers) the page is cross-origin isolated. */
  threads: boolean;
  /** Why `threads` is false, when it is. */
  threadsReason?: string;
}

let cached: Capabilities | undefined;

export function getCapabilities(): Capabilities {
  if (cached) return cached;
  const g = globalThis as { WebAssembly?: typeof WebAssembly; SharedArrayBuffer?: unknown; crossOriginIsolated?: boolean };
  const wasm = typeof g.WebAssembly === 'object' && typeof g.WebAssembly.validate === 'function';
  const simd = wasm && safeValidate(SIMD_PROBE);
  let threads = false;
  let threadsReason: string | undefined;
  if (!wasm) threadsReason = 'WebAssembly is not available';
  else if (typeof g.SharedArrayBuffer === 'undefined') threadsReason = 'SharedArrayBuffer is not defined (in a browser: serve the page with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  else if (g.crossOriginIsolated === false) threadsReason = 'the page is not cross-origin isolated (send Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  else if (!safeValidate(THREADS_PROBE)) threadsReason = 'WebAssembly threads (atomics) do not validate';
  else threads = true;
  cached = { wasm, simd, threads, ...(threadsReason ? { threadsReason } : {}) };
  return cached;
}

function safeValidate(bytes: Uint8Array): boolean {
  try {
    return WebAssembly.validate(bytes as BufferSource);
  } catch {
    return false;
  }
}
