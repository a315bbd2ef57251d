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

/** `import()` of a name that bundlers must leave alone (the node:fs fallback below is for file: URLs only). */
const importByName = (name: string): Promise<unknown> => import(/* @vite-ignore */ /* webpackIgnore: true */ name);

/**
 * Compiles a kernel module fetched from a URL (`createGfl({ wasmUrl })`): for pages whose policy or size budget keeps
 * the embedded copy out of the way, or that want the `.wasm` cached by the browser. http(s) URLs are fetched
 * (streaming compilation when the server sends `application/wasm`); file: URLs are read with node:fs, because Node's
 * fetch rejects them. Relative strings resolve against the page (`location.href`) where there is one.
 */
export async function moduleFromUrl(name: string, source: unknown): Promise<WebAssembly.Module> {
  if (typeof source !== 'string' && !(source !== null && typeof source === 'object' && typeof (source as URL).href === 'string')) {
    throw new GflInputError(name, 'expected a URL or a string');
  }
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  let url: URL;
  try {
    url = new URL(String(typeof source === 'string' ? source : (source as URL).href), base);
  } catch {
    throw new GflInputError(name, `not a valid URL${base ? '' : ' (relative URLs need a page to resolve against; give an absolute one)'}: ${String(source)}`);
  }
  if (url.protocol === 'file:') {
    const fs = (await importByName('node:fs/promises')) as { readFile(u: URL): Promise<Uint8Array> };
    return moduleFrom(name, await fs.readFile(url));
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`gfloss: fetching ${url.href} for ${name} failed: HTTP ${response.status}`);
  const streaming = typeof WebAssembly.compileStreaming === 'function' && /^application\/wasm\b/.test(response.headers.get('content-type') ?? '');
  if (streaming) return WebAssembly.compileStreaming(response);
  return moduleFrom(name, await response.arrayBuffer());
}
