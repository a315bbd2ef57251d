// The golden smoke test inside a Cloudflare worker (`workerd test`): the package is imported by name and bundled by
// workerd the way wrangler does (conditions workerd, worker, browser), which picks the `workerd` entry: the kernels
// arrive as wasm module imports, because workerd forbids compiling wasm from bytes while serving.
// cases.js (written by the test) holds the golden files as base64.
import * as gfloss from 'gfloss';
import * as conformance from 'gfloss/conformance';
import { CASES } from './cases.js';
import { decodeCase, runGoldens } from './smoke-core.mjs';

function bytes(base64) {
  const bin = atob(base64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export default {
  async test() {
    const cases = [];
    for (const { file, base64 } of CASES) cases.push({ file, case: await decodeCase(bytes(base64), file.endsWith('.gz')) });
    const summary = await runGoldens({ gfloss, conformance, cases });
    // that this is the request phase, where compiling from bytes is refused: the embedded path could not have worked
    try {
      new WebAssembly.Module(bytes('AGFzbQEAAAA='));
      summary.compileFromBytes = 'allowed';
    } catch (e) {
      summary.compileFromBytes = `refused: ${e.message}`;
    }
    console.log(`GFLOSS-SMOKE ${JSON.stringify(summary)}`);
    if (summary.failures.length) throw new Error(`${summary.failures.length} failures:\n${summary.failures.join('\n')}`);
  },
};
