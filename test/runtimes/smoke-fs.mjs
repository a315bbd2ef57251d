// Driver of the golden smoke test for runtimes with a file system (Node, Deno, Bun), run from a consumer folder where
// the packed package is installed:  <runtime> smoke-fs.mjs GOLDEN_DIR... [--wasm-dir DIR]
// It prints one line `GFLOSS-SMOKE {json}` and must then exit by itself (nothing left running); a failure throws.
import * as gfloss from 'gfloss';
import * as conformance from 'gfloss/conformance';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import process from 'node:process';
import { decodeCase, runGoldens } from './smoke-core.mjs';

const args = process.argv.slice(2);
const at = args.indexOf('--wasm-dir');
const dirs = at < 0 ? args : args.slice(0, at);
const wasmDir = at < 0 ? undefined : args[at + 1];
if (!dirs.length) throw new Error('usage: smoke-fs.mjs GOLDEN_DIR... [--wasm-dir DIR]');
const cases = [];
for (const dir of dirs) {
  for (const file of readdirSync(dir).filter((f) => /\.json(\.gz)?$/.test(f)).sort()) {
    cases.push({ file, case: await decodeCase(readFileSync(join(dir, file)), file.endsWith('.gz')) });
  }
}
const wasmUrls = wasmDir
  ? { 'wasm-simd': pathToFileURL(join(wasmDir, 'gfloss-simd.wasm')), 'wasm-scalar': pathToFileURL(join(wasmDir, 'gfloss.wasm')).href }
  : undefined;
const summary = await runGoldens({ gfloss, conformance, cases, wasmUrls });
console.log(`GFLOSS-SMOKE ${JSON.stringify(summary)}`);
if (summary.failures.length) throw new Error(`${summary.failures.length} failures:\n${summary.failures.join('\n')}`);
