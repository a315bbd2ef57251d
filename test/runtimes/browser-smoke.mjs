// Driver of the golden smoke test in a browser page: imports the installed package's unbundled ESM (the `browser`
// entry's file), fetches the goldens from the test server, and leaves the summary in window.__gfloss (or the error in
// window.__gflossError). Query: ?wasmUrl=1 also loads the kernels from the package's .wasm files.
import * as gfloss from '/node_modules/gfloss/dist/index.js';
import * as conformance from '/node_modules/gfloss/dist/conformance.js';
import { decodeCase, runGoldens } from './smoke-core.mjs';

const violations = [];
document.addEventListener('securitypolicyviolation', (e) => violations.push(`${e.violatedDirective}: ${e.blockedURI}`));

try {
  const cases = [];
  for (const dir of ['goldens', 'goldens2']) {
    const files = (await (await fetch(`/${dir}/index.json`)).json()).filter((f) => /\.json(\.gz)?$/.test(f));
    for (const file of files) {
      const bytes = new Uint8Array(await (await fetch(`/${dir}/${file}`)).arrayBuffer());
      cases.push({ file, case: await decodeCase(bytes, file.endsWith('.gz')) });
    }
  }
  const wasmUrls = new URLSearchParams(location.search).has('wasmUrl')
    ? { 'wasm-simd': '/node_modules/gfloss/build/gfloss-simd.wasm', 'wasm-scalar': new URL('/node_modules/gfloss/build/gfloss.wasm', location.href) }
    : undefined;
  const summary = await runGoldens({ gfloss, conformance, cases, wasmUrls });
  summary.crossOriginIsolated = globalThis.crossOriginIsolated;
  summary.sharedArrayBuffer = typeof SharedArrayBuffer;
  summary.violations = [...violations];
  // the policy is in force: eval is refused here (this probe's own violation comes after the snapshot above)
  try { (0, eval)('1'); summary.evalBlocked = false; } catch { summary.evalBlocked = true; }
  window.__gfloss = summary;
} catch (e) {
  window.__gflossError = String(e && e.stack || e);
}
