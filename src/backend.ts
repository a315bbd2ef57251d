// The one place that picks a backend: what the runtime supports × what the caller asked for.
import { GflInputError } from './errors.js';
import type { Capabilities } from './capabilities.js';
import type { BuildName } from './wasm/load.js';

export type BackendName = 'wasm-scalar' | 'wasm-simd';
export const BACKENDS: readonly BackendName[] = ['wasm-scalar', 'wasm-simd'];

export interface BackendChoice {
  name: BackendName;
  build: BuildName;
  /** Why this backend was chosen, for getCapabilities()/doctor output. */
  reason: string;
}

export function chooseBackend(requested: unknown, caps: Capabilities): BackendChoice {
  if (!caps.wasm) throw new GflInputError('options.backend', 'this runtime has no WebAssembly');
  if (requested === undefined || requested === 'auto') {
    return caps.simd
      ? { name: 'wasm-simd', build: 'simd', reason: 'auto: WebAssembly SIMD is supported' }
      : { name: 'wasm-scalar', build: 'scalar', reason: 'auto: WebAssembly SIMD is not supported' };
  }
  if (requested === 'wasm-scalar') return { name: 'wasm-scalar', build: 'scalar', reason: 'forced by options.backend' };
  if (requested === 'wasm-simd') {
    if (!caps.simd) throw new GflInputError('options.backend', "'wasm-simd' was forced but this runtime does not support WebAssembly SIMD");
    return { name: 'wasm-simd', build: 'simd', reason: 'forced by options.backend' };
  }
  throw new GflInputError('options.backend', `expected 'auto', ${BACKENDS.map((b) => `'${b}'`).join(', ')}; got ${String(requested)}`);
}

/** Backends this runtime can run (for tests and `gfloss doctor`). */
export function availableBackends(caps: Capabilities): BackendName[] {
  return caps.simd ? ['wasm-scalar', 'wasm-simd'] : caps.wasm ? ['wasm-scalar'] : [];
}
