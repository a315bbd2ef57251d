// A small browser app that uses the package by name, bundled with esbuild by the consumer test. It runs two golden
// cases through the public API on the auto-chosen backend and on every backend, and leaves a summary in
// window.__gfloss (or the error in window.__gflossError).
import { createGfl, getCapabilities, availableBackends, GflInputError } from 'gfloss';
import { runCase, compareCase } from 'gfloss/conformance';
import qfl from './qfl_beta2_N12_C4_s102.json';
import giou from './giou_K16_s110.json';

try {
  const caps = getCapabilities();
  const results = [];
  // the pool's worker script is its own entry point of the bundle (esbuild does not follow new URL(…, import.meta.url))
  const gfl = await createGfl({ workerUrl: new URL('./worker.js', import.meta.url) });
  const summary = { crossOriginIsolated: globalThis.crossOriginIsolated, capabilities: caps, backend: gfl.backend, reason: gfl.backendReason, results };
  for (const [name, g] of [['auto', gfl], ...await Promise.all(availableBackends(caps).map(async (b) => [b, await createGfl({ backend: b })]))]) {
    for (const c of [qfl, giou]) {
      const bad = compareCase(c, runCase(g, c)).filter((k) => !k.pass).map((k) => k.field);
      results.push({ backend: name, case: c.name, bad });
    }
    // the asynchronous API and the error type work from the bundle too
    const r = await g.giouLoss({ pred: new Float32Array([0, 0, 2, 2]), target: new Float32Array([1, 1, 3, 3]) });
    results.push({ backend: name, case: 'giouLoss async', bad: r.loss > 0 && r.loss < 2 ? [] : [`loss ${r.loss}`] });
    try {
      g.qualityFocalLossSync({ pred: new Float32Array(4), label: new Int32Array(2), score: new Float32Array(1) });
      results.push({ backend: name, case: 'bad input', bad: ['no error'] });
    } catch (e) {
      results.push({ backend: name, case: 'bad input', bad: e instanceof GflInputError ? [] : [String(e)] });
    }
    if (g !== gfl) await g.dispose();
  }
  // a training-sized call (split over the pool where auto chose threads) gives single-thread SIMD's bits
  const N = 4000, C = 80;
  const pred = Float32Array.from({ length: N * C }, (_, i) => Math.sin(i * 0.37) * 6 - 2);
  const label = Int32Array.from({ length: N }, (_, i) => (i % 17 === 0 ? i % C : C));
  const score = Float32Array.from({ length: N }, (_, i) => (i % 10) / 10);
  const big = await createGfl({ workerUrl: new URL('./worker.js', import.meta.url) });
  const simd = await createGfl({ backend: 'wasm-simd' });
  const [a, b] = await Promise.all([big, simd].map((g) => g.qualityFocalLoss({ pred, label, score }, { beta: 2, avgFactor: 235 })));
  const bits = (x) => new Uint32Array(x.buffer, x.byteOffset, x.length);
  const same = Object.is(a.loss, b.loss) && bits(a.gradPred).every((v, i) => v === bits(b.gradPred)[i]);
  results.push({ backend: big.backend, case: 'QFL 4000 × 80 against wasm-simd, bit for bit', bad: same ? [] : ['differs'] });
  summary.largeBackend = big.backend;
  summary.largeThreads = big.threads;
  await big.dispose();
  await simd.dispose();
  await gfl.dispose();
  window.__gfloss = summary;
} catch (e) {
  window.__gflossError = String(e && e.stack || e);
}
