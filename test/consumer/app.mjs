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
  const gfl = await createGfl();
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
    g.dispose();
  }
  window.__gfloss = summary;
} catch (e) {
  window.__gflossError = String(e && e.stack || e);
}
