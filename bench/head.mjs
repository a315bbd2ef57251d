// The whole GFL head loss at b8 (8 images of 640 × 640: levels 80², 40², 20² at strides 8, 16, 32, so N = 67,200 rows,
// C = 80, 17 bins, about 3,400 positives), forward + both gradients, timed on the chosen backend next to the plain
// float64 JavaScript reference of the same computation (bench/head-reference.mjs), which it is also checked against.
//
//   node bench/head.mjs [--backend wasm-simd|wasm-scalar] [--runs 30]
//
// Prints median and minimum wall time of gflHeadLossSync (staging, both passes, copying the gradients out), and of
// qualityFocalLossSync on the same logits alone, for scale.
import { createGflSync } from '../dist/index.js';
import { gflHeadReference } from './head-reference.mjs';
import { mulberry32 as rng } from './common.mjs';

const arg = (name, def) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : def; };
const backend = arg('backend', 'wasm-simd');
const runs = Number(arg('runs', 30));

function problem() {
  const r = rng(2024);
  const B = 8, C = 80, bins = 17, levels = [[80, 80], [40, 40], [20, 20]], strides = [8, 16, 32];
  const n = B * levels.reduce((a, [h, w]) => a + h * w, 0);
  const anchors = new Float32Array(4 * n), stride = new Float32Array(n), labels = new Int32Array(n).fill(C);
  const bboxTargets = new Float32Array(4 * n), labelWeights = new Float32Array(n).fill(1);
  const clsScore = new Float32Array(n * C), bboxPred = new Float32Array(n * 4 * bins);
  let i = 0, npos = 0;
  levels.forEach(([h, w], l) => {
    const s = strides[l];
    for (let b = 0; b < B; b++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++, i++) {
      const cx = x * s, cy = y * s, half = 4 * s;
      anchors.set([cx - half, cy - half, cx + half, cy + half], 4 * i);
      stride[i] = s;
      if (r() < 0.0506) {
        labels[i] = Math.floor(r() * C);
        npos++;
        bboxTargets.set([cx - s * (0.5 + 10 * r()), cy - s * (0.5 + 10 * r()), cx + s * (0.5 + 10 * r()), cy + s * (0.5 + 10 * r())], 4 * i);
      }
    }
  });
  // detector-like logits: most classes far negative, a few near the decision boundary
  for (let k = 0; k < clsScore.length; k++) clsScore[k] = r() < 0.02 ? -2 + 4 * r() : -9 + 5 * r();
  for (let k = 0; k < bboxPred.length; k++) bboxPred[k] = -3 + 6 * r();
  return { input: { clsScore, bboxPred, anchors, stride, labels, labelWeights, bboxTargets }, B, C, bins, levels, npos, n };
}

function time(fn, count) {
  const t = [];
  for (let k = 0; k < count; k++) { const t0 = performance.now(); fn(); t.push(performance.now() - t0); }
  t.sort((a, b) => a - b);
  return { median: t[Math.floor(t.length / 2)], min: t[0] };
}

const p = problem();
const g = createGflSync({ backend });
const opts = { numClasses: p.C, bins: p.bins, levels: p.levels, numImages: p.B };
const res = g.gflHeadLossSync(p.input, opts);
const ref = gflHeadReference(p.input, { numClasses: p.C, bins: p.bins, avgFactor: p.npos }); // every image has positives: Σ max(npos_img, 1) = npos
// check: losses to 1e-5 relative, gradients to 1e-5 of their largest magnitude
const rel = (a, b) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
const maxDiff = (a, b) => { let m = 0, s = 0; for (let k = 0; k < a.length; k++) { m = Math.max(m, Math.abs(a[k] - b[k])); s = Math.max(s, Math.abs(b[k])); } return m / s; };
const checks = {
  lossCls: rel(res.lossCls, ref.lossCls), lossBbox: rel(res.lossBbox, ref.lossBbox), lossDfl: rel(res.lossDfl, ref.lossDfl),
  gradClsScore: maxDiff(res.gradClsScore, ref.gradClsScore), gradBboxPred: maxDiff(res.gradBboxPred, ref.gradBboxPred),
};
const ok = Object.values(checks).every((v) => v <= 1e-5);

const out = { gradClsScore: new Float32Array(p.n * p.C), gradBboxPred: new Float32Array(p.n * 4 * p.bins) };
for (let k = 0; k < 5; k++) g.gflHeadLossSync(p.input, { ...opts, out });
const wasm = time(() => g.gflHeadLossSync(p.input, { ...opts, out }), runs);
const wasmAlloc = time(() => g.gflHeadLossSync(p.input, opts), Math.max(5, runs >> 1));
const qflOut = { gradPred: new Float32Array(p.n * p.C) };
const qflOnly = time(() => g.qualityFocalLossSync({ pred: p.input.clsScore, label: p.input.labels, score: new Float32Array(p.n) }, { beta: 2, avgFactor: p.npos, out: qflOut }), runs);
const js = time(() => gflHeadReference(p.input, { numClasses: p.C, bins: p.bins, avgFactor: p.npos }), 5);

console.log(`GFL head loss, b8: N = ${p.n}, C = ${p.C}, ${p.bins} bins, ${p.npos} positives; forward + gradients, one thread`);
console.log(`node ${process.version}, ${backend}`);
console.log(`  gfloss gflHeadLossSync (preallocated out)   median ${wasm.median.toFixed(2)} ms   min ${wasm.min.toFixed(2)} ms`);
console.log(`  gfloss gflHeadLossSync (fresh gradients)    median ${wasmAlloc.median.toFixed(2)} ms   min ${wasmAlloc.min.toFixed(2)} ms`);
console.log(`  gfloss qualityFocalLossSync alone (scale)   median ${qflOnly.median.toFixed(2)} ms   min ${qflOnly.min.toFixed(2)} ms`);
console.log(`  plain JS float64 reference                   median ${js.median.toFixed(2)} ms   min ${js.min.toFixed(2)} ms`);
console.log(`  agreement with the reference (relative; gradients relative to their max): ${Object.entries(checks).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ')} ${ok ? 'OK' : 'MISMATCH'}`);
if (!ok) process.exitCode = 1;
