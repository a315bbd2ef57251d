// The browser half of bench/browser.mjs: QFL forward + gradient at b1 and b8 on every backend the page offers, next to
// the plain-JS reference, timed here in the page; the results go to window.__bench for the driver to print.
import { createGfl, createGflSync, availableBackends, getCapabilities } from '../dist/index.js';
import { qflJs, mulberry32, gaussian } from './common.mjs';

const C = 80, BETA = 2, EPS32 = 1.1920928955078125e-7;
const params = new URLSearchParams(location.search);
const ROUNDS = Number(params.get('rounds') ?? 5), REPS = Number(params.get('reps') ?? 3);

function data(n, seed) {
  const rand = mulberry32(seed), normal = gaussian(rand);
  const pred = new Float32Array(n * C), label = new Int32Array(n).fill(C), score = new Float32Array(n);
  for (let i = 0; i < n * C; i++) pred[i] = -4.6 + normal();
  let npos = 0;
  for (let i = 0; i < n; i++) {
    if (rand() < 0.05) { label[i] = Math.floor(rand() * C); score[i] = 0.05 + 0.95 * rand(); pred[i * C + label[i]] = 2 * normal(); npos++; }
  }
  return { n, pred, label, score, avgFactor: Math.max(npos, 1) };
}

async function time(fn) {
  const samples = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    for (let k = 0; k < REPS; k++) await fn();
    samples.push((performance.now() - t0) / REPS);
  }
  samples.sort((a, b) => a - b);
  return { min: samples[0], median: samples[samples.length >> 1], max: samples[samples.length - 1] };
}

async function run() {
  const caps = getCapabilities();
  const backends = availableBackends(caps, { async: true });
  const out = { userAgent: navigator.userAgent, crossOriginIsolated: globalThis.crossOriginIsolated === true, backends, workloads: [] };
  const instances = [];
  for (const b of backends) {
    if (b === 'wasm-simd-threads') for (const t of [1, 2]) instances.push({ name: `${b}×${t}`, g: await createGfl({ backend: b, threads: t }), async: true });
    else instances.push({ name: b, g: createGflSync({ backend: b }), async: false });
  }
  for (const [label, n, seed] of [['QFL b1', 8400, 1], ['QFL b8', 67200, 8]]) {
    const d = data(n, seed);
    const coef = 1 / (d.avgFactor + EPS32);
    const jsGrad = new Float32Array(n * C), jsScore = new Float32Array(n);
    const ref = qflJs(d.pred, d.label, d.score, n, C, BETA, coef, jsGrad, jsScore);
    const rows = [{ name: 'js', ...(await time(() => qflJs(d.pred, d.label, d.score, n, C, BETA, coef, jsGrad, jsScore))) }];
    for (const inst of instances) {
      const o = { gradPred: new Float32Array(n * C), gradScore: new Float32Array(n) };
      const opts = { beta: BETA, avgFactor: d.avgFactor, out: o };
      const input = { pred: d.pred, label: d.label, score: d.score };
      const call = inst.async ? () => inst.g.qualityFocalLoss(input, opts) : () => inst.g.qualityFocalLossSync(input, opts);
      const res = await call();
      let worst = 0, top = 0;
      for (let i = 0; i < n * C; i++) { worst = Math.max(worst, Math.abs(o.gradPred[i] - jsGrad[i])); top = Math.max(top, Math.abs(jsGrad[i])); }
      const ok = Math.abs(res.loss - ref) <= 1e-5 * Math.abs(ref) && worst <= 1e-4 * top;
      if (!ok) throw new Error(`${label} ${inst.name} disagrees with the JS reference: loss ${res.loss} vs ${ref}, max|Δgrad| ${worst}`);
      rows.push({ name: inst.name, ...(await time(call)) });
    }
    out.workloads.push({ label, n, elements: n * C, rows });
  }
  for (const inst of instances) if (inst.async) await inst.g.dispose();
  return out;
}

run().then((r) => { window.__bench = r; }, (e) => { window.__benchError = String(e?.stack ?? e); });
