// The entries for edge runtimes (package.json conditions `workerd` and `edge-light`): they compile no wasm from bytes,
// which Cloudflare's workerd and Vercel's edge forbid at request time, and start no workers, which they do not have.
// Each imports the kernel binaries as WebAssembly.Module objects (the bundler's wasm-module import) and hands the
// single-threaded build to the common API: `wasm-simd` where SIMD validates, else `wasm-scalar`.
import {
  createGfl as createWith, createGflSync as createSyncWith, getCapabilities, GflInputError,
  type CreateGflOptions, type Gfl,
} from './index.js';

export interface EdgeModules {
  simd: WebAssembly.Module;
  scalar: WebAssembly.Module;
}

function withModule(modules: EdgeModules, options: CreateGflOptions | undefined): CreateGflOptions | undefined {
  if (options !== undefined && (options === null || typeof options !== 'object')) return options; // the API reports it
  const o = options ?? {};
  if (o.wasmModule !== undefined || o.wasmUrl !== undefined) return o;
  const backend = o.backend ?? 'auto';
  if (backend === 'wasm-scalar') return { ...o, wasmModule: modules.scalar };
  if (backend === 'auto') {
    const caps = getCapabilities() as { simd: boolean; workers?: boolean };
    const wasmModule = caps.simd ? modules.simd : modules.scalar;
    // where auto cannot pick threads (no workers) it keeps its own reason; elsewhere the single-thread choice is forced
    return caps.workers === false ? { ...o, wasmModule } : { ...o, backend: caps.simd ? 'wasm-simd' : 'wasm-scalar', wasmModule };
  }
  if (backend === 'wasm-simd') return { ...o, wasmModule: modules.simd };
  throw new GflInputError('options.backend', `this entry (edge runtimes: no workers) runs 'wasm-simd' or 'wasm-scalar'; got ${String(backend)}`);
}

export function edgeApi(modules: EdgeModules) {
  return {
    createGfl: (options?: CreateGflOptions): Promise<Gfl> => createWith(withModule(modules, options)),
    createGflSync: (options?: CreateGflOptions): Gfl => createSyncWith(withModule(modules, options)),
  };
}
