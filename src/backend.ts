// The one place that picks a backend: what the runtime supports × what the caller asked for.
import { GflInputError } from './errors.js';
import type { Capabilities } from './capabilities.js';
import type { BuildName } from './wasm/load.js';

export type BackendName = 'wasm-scalar' | 'wasm-simd' | 'wasm-simd-threads';
export const BACKENDS: readonly BackendName[] = ['wasm-scalar', 'wasm-simd', 'wasm-simd-threads'];

/** More threads than this is a mistake, not a machine. */
export const MAX_THREADS = 256;

export interface BackendChoice {
  name: BackendName;
  build: BuildName;
  /** Threads that run the kernels, the calling thread included (1 for the single-thread backends). */
  threads: number;
  /** Why this backend was chosen, for getCapabilities()/doctor output. */
  reason: string;
  /** A warning to print once (auto fell back from threads for a reason the page can fix). */
  warning?: string;
}

export interface ChoiceContext {
  /** options.threads as given (validated here) */
  threads?: unknown;
  /** logical processors (navigator.hardwareConcurrency / os.availableParallelism) */
  cores: number;
  /** createGflSync: workers start asynchronously, so a synchronous instance is single-threaded */
  sync: boolean;
}

export function chooseBackend(requested: unknown, caps: Capabilities, ctx: ChoiceContext = { cores: 1, sync: true }): BackendChoice {
  if (!caps.wasm) throw new GflInputError('options.backend', 'this runtime has no WebAssembly');
  const threadsOpt = ctx.threads === undefined ? undefined : positiveThreads(ctx.threads);
  if (ctx.sync && threadsOpt !== undefined && threadsOpt > 1) {
    throw new GflInputError('options.threads', `createGflSync is single-threaded (workers start asynchronously); for ${threadsOpt} threads use createGfl()`);
  }
  const single = (name: 'wasm-simd' | 'wasm-scalar', reason: string, warning?: string): BackendChoice => {
    if (threadsOpt !== undefined && threadsOpt > 1 && requested !== undefined && requested !== 'auto') {
      throw new GflInputError('options.threads', `only 'wasm-simd-threads' runs on several threads; '${name}' was forced with threads: ${threadsOpt}`);
    }
    return { name, build: name === 'wasm-simd' ? 'simd' : 'scalar', threads: 1, reason, ...(warning ? { warning } : {}) };
  };
  if (requested === undefined || requested === 'auto') {
    if (!caps.simd) return single('wasm-scalar', 'auto: WebAssembly SIMD is not supported');
    const n = threadsOpt ?? ctx.cores;
    if (ctx.sync) return single('wasm-simd', 'auto: WebAssembly SIMD is supported (createGflSync is single-threaded)');
    if (!caps.threads) {
      return single('wasm-simd', `auto: WebAssembly SIMD is supported; no threads: ${caps.threadsReason}`,
        caps.crossOriginIsolated === false ? `gfloss: running single-threaded (wasm-simd): ${caps.threadsReason}` : undefined);
    }
    if (!caps.workers) return single('wasm-simd', `auto: WebAssembly SIMD is supported; no threads: ${caps.workersReason}`);
    if (n < 2) {
      return single('wasm-simd', threadsOpt === 1 ? 'auto: WebAssembly SIMD is supported; threads: 1 asked for' : 'auto: WebAssembly SIMD is supported; one logical processor, so no threads');
    }
    return { name: 'wasm-simd-threads', build: 'simdThreads', threads: n, reason: `auto: WebAssembly SIMD, threads and workers are supported; ${n} threads${threadsOpt === undefined ? ' (one per logical processor)' : ''}` };
  }
  if (requested === 'wasm-scalar') return single('wasm-scalar', 'forced by options.backend');
  if (requested === 'wasm-simd') {
    if (!caps.simd) throw new GflInputError('options.backend', "'wasm-simd' was forced but this runtime does not support WebAssembly SIMD");
    return single('wasm-simd', 'forced by options.backend');
  }
  if (requested === 'wasm-simd-threads') {
    if (ctx.sync) throw new GflInputError('options.backend', "'wasm-simd-threads' starts worker threads, which is asynchronous: use createGfl(), not createGflSync()");
    if (!caps.simd) throw new GflInputError('options.backend', "'wasm-simd-threads' was forced but this runtime does not support WebAssembly SIMD");
    if (!caps.threads) throw new GflInputError('options.backend', `'wasm-simd-threads' was forced but ${caps.threadsReason}`);
    if (!caps.workers) throw new GflInputError('options.backend', `'wasm-simd-threads' was forced but ${caps.workersReason}`);
    const n = threadsOpt ?? Math.max(1, ctx.cores);
    return { name: 'wasm-simd-threads', build: 'simdThreads', threads: n, reason: `forced by options.backend; ${n} thread${n === 1 ? '' : 's'}${threadsOpt === undefined ? ' (one per logical processor)' : ''}` };
  }
  throw new GflInputError('options.backend', `expected 'auto', ${BACKENDS.map((b) => `'${b}'`).join(', ')}; got ${String(requested)}`);
}

function positiveThreads(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_THREADS) {
    throw new GflInputError('options.threads', `expected an integer in [1, ${MAX_THREADS}] (threads in all, the calling thread included), got ${String(v)}`);
  }
  return v;
}

/**
 * Backends this runtime can run. By default those createGflSync can create (the single-thread ones, for tests and
 * `gfloss conformance --backend all`); with `{ async: true }` also 'wasm-simd-threads' where createGfl can start it.
 */
export function availableBackends(caps: Capabilities, opts?: { async?: boolean }): BackendName[] {
  const list: BackendName[] = caps.simd ? ['wasm-scalar', 'wasm-simd'] : caps.wasm ? ['wasm-scalar'] : [];
  if (opts?.async && caps.simd && caps.threads && caps.workers) list.push('wasm-simd-threads');
  return list;
}
