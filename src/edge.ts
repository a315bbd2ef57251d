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
    return getCapabilities().simd ? { ...o, backend: 'wasm-simd', wasmModule: modules.simd } : { ...o, backend: 'wasm-scalar', wasmModule: modules.scalar };
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
