import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const GOLDEN_DIR = join(ROOT, 'test', 'data', 'goldens');
/** Every public golden set: the losses (goldens) and assignment / decode / NMS (goldens2). */
export const GOLDEN_DIRS = [GOLDEN_DIR, join(ROOT, 'test', 'data', 'goldens2')];
/** Public golden files in all (the smoke tests check that each runtime saw every one). */
export const GOLDEN_COUNT = 26 + 19;
export const RUNTIMES_DIR = join(ROOT, 'test', 'runtimes');
export const CONSUMER_SRC = join(ROOT, 'test', 'consumer');
/** The runtimes installed from npm (devDependencies): a missing one makes its test fail, never skip. */
export const BIN = {
  deno: join(ROOT, 'node_modules', 'deno', 'deno'),
  bun: join(ROOT, 'node_modules', 'bun', 'bin', 'bun.exe'),
  workerd: join(ROOT, 'node_modules', 'workerd', 'bin', 'workerd'),
  tsc: join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
  esbuild: join(ROOT, 'node_modules', 'esbuild', 'bin', 'esbuild'),
};
export const CHROMIUM = '/usr/bin/chromium';
