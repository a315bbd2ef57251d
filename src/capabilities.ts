// What the runtime supports, detected once by validating tiny modules (no compilation of the kernels).

/** A module with one v128 instruction (i8x16.splat + i8x16.popcnt style probe, the same bytes as wasm-feature-detect). */
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
/** A module with one atomic instruction on a shared memory. */
const THREADS_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 4, 1, 3, 1, 1, 10, 11, 1, 9, 0, 65, 0, 254, 16, 2, 0, 26, 11]);

const COI_FIX = 'serve the page and its scripts with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp';

export interface Capabilities {
  /** WebAssembly is available at all. */
  wasm: boolean;
  /** 128-bit SIMD validates. */
  simd: boolean;
  /**
   * Atomics on shared memory validate, SharedArrayBuffer and Atomics.waitAsync exist, and (in browsers) the page is
   * cross-origin isolated.
   */
  threads: boolean;
  /** Why `threads` is false, when it is. */
  threadsReason?: string;
  /** Worker threads can be started: a web `Worker`, or `node:worker_threads` in Node. */
  workers: boolean;
  /** Why `workers` is false, when it is. */
  workersReason?: string;
  /** `globalThis.crossOriginIsolated` where the runtime defines it (browsers); undefined elsewhere. */
  crossOriginIsolated?: boolean;
}

let cached: Capabilities | undefined;

type Globals = {
  WebAssembly?: typeof WebAssembly; SharedArrayBuffer?: unknown; crossOriginIsolated?: boolean; Worker?: unknown;
  Atomics?: { waitAsync?: unknown }; process?: { versions?: { node?: unknown } }; navigator?: { userAgent?: string; hardwareConcurrency?: number };
};

/** Node proper (not workerd, which sets process.versions.node but has no workers; Deno and Bun have web Workers). */
export function isNodeRuntime(): boolean {
  const g = globalThis as Globals;
  return typeof g.process?.versions?.node === 'string' && g.navigator?.userAgent !== 'Cloudflare-Workers'
    && !('Deno' in globalThis) && !('Bun' in globalThis);
}

export function getCapabilities(): Capabilities {
  if (cached) return cached;
  const g = globalThis as Globals;
  const wasm = typeof g.WebAssembly === 'object' && typeof g.WebAssembly.validate === 'function';
  const simd = wasm && safeValidate(SIMD_PROBE);
  let threads = false;
  let threadsReason: string | undefined;
  if (!wasm) threadsReason = 'WebAssembly is not available';
  else if (typeof g.SharedArrayBuffer === 'undefined') {
    threadsReason = g.crossOriginIsolated === false
      ? `SharedArrayBuffer is not defined because the page is not cross-origin isolated (${COI_FIX})`
      : 'SharedArrayBuffer is not defined';
  }
  // a non-isolated page can still create shared memories and validate atomics; only posting them fails, so ask first
  else if (g.crossOriginIsolated === false) threadsReason = `the page is not cross-origin isolated (${COI_FIX})`;
  else if (!safeValidate(THREADS_PROBE)) threadsReason = 'WebAssembly threads (atomics) do not validate';
  else if (typeof g.Atomics?.waitAsync !== 'function') threadsReason = 'Atomics.waitAsync is missing (the calling thread waits for the workers with it)';
  else threads = true;
  let workers = false;
  let workersReason: string | undefined;
  if (g.navigator?.userAgent === 'Cloudflare-Workers') workersReason = 'workerd has no worker threads';
  else if (typeof g.Worker === 'function' || isNodeRuntime()) workers = true;
  else workersReason = 'this runtime has no Worker (nor node:worker_threads)';
  cached = {
    wasm, simd, threads, ...(threadsReason ? { threadsReason } : {}), workers, ...(workersReason ? { workersReason } : {}),
    ...(typeof g.crossOriginIsolated === 'boolean' ? { crossOriginIsolated: g.crossOriginIsolated } : {}),
  };
  return cached;
}

/** Logical processors: navigator.hardwareConcurrency, or os.availableParallelism() in Node 20 (no navigator). */
export async function logicalProcessors(): Promise<number> {
  const n = (globalThis as Globals).navigator?.hardwareConcurrency;
  if (typeof n === 'number' && n >= 1) return n;
  if (isNodeRuntime()) {
    try {
      const name = 'node:os';
      const os = (await import(/* @vite-ignore */ /* webpackIgnore: true */ name)) as { availableParallelism?: () => number; cpus(): unknown[] };
      return os.availableParallelism ? os.availableParallelism() : Math.max(1, os.cpus().length);
    } catch {
      return 1;
    }
  }
  return 1;
}

function safeValidate(bytes: Uint8Array): boolean {
  try {
    return WebAssembly.validate(bytes as BufferSource);
  } catch {
    return false;
  }
}
