// Shared by the tests: the built package as users import it, the golden cases, and a seeded generator.
import { expect } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGflSync, availableBackends, getCapabilities, type Gfl, type BackendName } from '../dist/index.js';
import { readCase } from '../dist/cli.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const GOLDEN_DIR = join(ROOT, 'test', 'data', 'goldens');

export function goldenFiles(): string[] {
  return readdirSync(GOLDEN_DIR).filter((f) => /\.json(\.gz)?$/.test(f)).sort().map((f) => join(GOLDEN_DIR, f));
}

export { readCase };

/**
 * The backends under test: the two single-thread backends, and the threads build instantiated on shared memory and run
 * on the calling thread (the same kernels the worker pool runs). Every one must exist here: a runtime that lacks SIMD
 * would silently test less, so that fails instead.
 */
export type Variant = BackendName | 'wasm-simd-threads-build';
export function backends(): Variant[] {
  const list = availableBackends(getCapabilities());
  if (!list.includes('wasm-simd') || !list.includes('wasm-scalar')) {
    throw new Error(`expected wasm-scalar and wasm-simd to be available in Node, got ${list.join(', ')}`);
  }
  return [...list, 'wasm-simd-threads-build'];
}

const instances = new Map<string, Gfl>();
export function gfl(variant: Variant): Gfl {
  let g = instances.get(variant);
  if (!g) {
    g = variant === 'wasm-simd-threads-build'
      ? createGflSync({ backend: 'wasm-simd', wasmModule: readFileSync(join(ROOT, 'build', 'gfloss-simd-threads.wasm')) })
      : createGflSync({ backend: variant });
    instances.set(variant, g);
  }
  return g;
}

/** mulberry32 */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function uniform(r: () => number, n: number, lo: number, hi: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

/**
 * The same values element for element (Object.is: NaN equals NaN, +0 differs from −0), reporting the first
 * difference. For large arrays: toEqual's diff of two arrays of 10⁵–10⁶ mismatching elements can take minutes.
 */
export function expectSameValues(actual: ArrayLike<number> | undefined, expected: ArrayLike<number> | undefined, what = 'values'): void {
  expect(actual, `${what}: present`).toBeDefined();
  expect(expected, `${what}: reference present`).toBeDefined();
  expect(actual!.length, `${what}: length`).toBe(expected!.length);
  for (let i = 0; i < actual!.length; i++) {
    if (!Object.is(actual![i], expected![i])) expect(actual![i], `${what}[${i}]`).toBe(expected![i]);
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d;
  }
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
