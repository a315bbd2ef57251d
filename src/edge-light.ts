// Entry for Vercel / Next.js edge routes (condition `edge-light`, which needs the `?module` suffix): the kernels come in as wasm modules. See edge.ts.
import simd from '../build/gfloss-simd.wasm?module';
import scalar from '../build/gfloss.wasm?module';
import { edgeApi } from './edge.js';
import type { CreateGflOptions, Gfl } from './index.js';

export * from './index.js';
const api = edgeApi({ simd, scalar });
/** As the main entry's createGfl, with the kernel module imported by the bundler (no compilation from bytes). */
export const createGfl: (options?: CreateGflOptions) => Promise<Gfl> = api.createGfl;
/** As the main entry's createGflSync, with the kernel module imported by the bundler. */
export const createGflSync: (options?: CreateGflOptions) => Gfl = api.createGflSync;
