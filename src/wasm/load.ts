// Where the kernel binaries come from: embedded base64 (the default: no file access, fetch or bundler configuration),
// bytes or a precompiled WebAssembly.Module supplied by the caller (edge runtimes forbid compiling from bytes).
import { WASM_BINARIES } from '../generated/wasm.js';
import { GflInputError } from '../errors.js';

export type BuildName = 'scalar' | 'simd' | 'simdThreads';

const compiled = new Map<BuildName, WebAssembly.Module>();

function decodeBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Compiled module of an embedded build, compiled once per process. */
export function embeddedModule(build: BuildName): WebAssembly.Module {
  let m = compiled.get(build);
  if (!m) {
    m = new WebAssembly.Module(decodeBase64(WASM_BINARIES[build].base64) as BufferSource);
    compiled.set(build, m);
  }
  return m;
}

/** The embedded bytes of a build (for tools that want to write or hash them). */
export function embeddedBytes(build: BuildName): Uint8Array {
  return decodeBase64(WASM_BINARIES[build].base64);
}

/**
 * A module given by the caller: a WebAssembly.Module (recognised without instanceof, which fails across realms)
 * or the bytes of one of the gfloss builds.
 */
export function moduleFrom(name: string, source: unknown): WebAssembly.Module {
  if (Object.prototype.toString.call(source) === '[object WebAssembly.Module]') return source as WebAssembly.Module;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    try {
      return new WebAssembly.Module(source as BufferSource);
    } catch (e) {
      throw new GflInputError(name, `the bytes do not compile as WebAssembly: ${(e as Error).message}`);
    }
  }
  throw new GflInputError(name, 'expected a WebAssembly.Module, an ArrayBuffer or a typed array of wasm bytes');
}
