// Computes every loss of gfloss on a synthetic detector batch and prints the losses and gradient norms.
//   npm run example            (after npm install; builds first)
//   node examples/synthetic.mjs --backend wasm-scalar
import { createGfl } from '../dist/index.js';

const args = process.argv.slice(2);
const backend = args.includes('--backend') ? args[args.indexOf('--backend') + 1] : 'auto';

// a seeded generator, so that every run prints the same numbers
let seed = 0x9e3779b9;
const rand = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
const norm = (a) => Math.sqrt(a.reduce((s, v) => s + v * v, 0));

// One 640×640 image at strides 8/16/32: 8400 anchor points, 80 classes, 17 bins (mmdetection reg_max 16).
const N = 8400, C = 80, BINS = 17;
const clsLogits = Float32Array.from({ length: N * C }, () => -4.6 + normal()); // prior-probability bias
const label = new Int32Array(N).fill(C);                                        // background = C
const score = new Float32Array(N);
const positives = [];
for (let i = 0; i < N; i++) {
  if (rand() < 0.05) {
    label[i] = Math.floor(rand() * C);
    score[i] = 0.2 + 0.75 * rand();                                              // IoU of the decoded box
    clsLogits[i * C + label[i]] = normal() * 2;
    positives.push(i);
  }
}
const K = positives.length;
const regLogits = Float32Array.from({ length: K * 4 * BINS }, () => normal());  // 4 sides × 17 bins per positive
const dflTarget = Float32Array.from({ length: K * 4 }, () => rand() * 15.9);     // clamped to [0, reg_max − 0.1]
const box = () => { const x = rand() * 600, y = rand() * 600; return [x, y, x + 8 + rand() * 120, y + 8 + rand() * 120]; };
const predBoxes = Float32Array.from(Array.from({ length: K }, box).flat());
const targetBoxes = predBoxes.map((v) => v + (rand() - 0.5) * 20);
const quality = Float32Array.from({ length: K }, () => rand());                  // GFL's box weights
const denseTarget = Float32Array.from({ length: N * C }, (_, j) => (label[Math.floor(j / C)] === j % C ? score[Math.floor(j / C)] : 0));
const probs = clsLogits.map((x) => 1 / (1 + Math.exp(-x)));
const general = {
  probLeft: Float32Array.from({ length: K }, () => 0.1 + 0.4 * rand()), probRight: Float32Array.from({ length: K }, () => 0.1 + 0.4 * rand()),
  yLeft: new Float32Array(K), yRight: new Float32Array(K).fill(1), target: score.filter((_, i) => label[i] < C),
};

const gfl = await createGfl({ backend });
console.log(`gfloss on ${gfl.backend} (${gfl.backendReason}); N = ${N} anchors, C = ${C}, ${K} positives, ${BINS} bins\n`);

const rows = [];
const t0 = performance.now();
const qfl = await gfl.qualityFocalLoss({ pred: clsLogits, label, score }, { beta: 2, avgFactor: K });
rows.push(['QFL (β = 2, logits)', qfl.loss, { pred: qfl.gradPred }]);
const qflDense = await gfl.qualityFocalLossDense({ pred: clsLogits, target: denseTarget }, { numClasses: C, beta: 2, avgFactor: K });
rows.push(['QFL, dense soft targets', qflDense.loss, { pred: qflDense.gradPred }]);
const qflProb = await gfl.qualityFocalLoss({ pred: probs, label, score }, { beta: 2, activated: true, avgFactor: K });
rows.push(['QFL on probabilities', qflProb.loss, { pred: qflProb.gradPred }]);
const focal = await gfl.sigmoidFocalLoss({ pred: clsLogits, label }, { alpha: 0.25, gamma: 2, avgFactor: K });
rows.push(['sigmoid focal (α .25, γ 2)', focal.loss, { pred: focal.gradPred }]);
const dfl = await gfl.distributionFocalLoss({ pred: regLogits, target: dflTarget }, { bins: BINS, lossWeight: 0.25, avgFactor: 4 });
rows.push(['DFL (17 bins, λ 0.25)', dfl.loss, { pred: dfl.gradPred }]);
const integral = await gfl.integral({ x: regLogits }, { bins: BINS, gradOutput: new Float32Array(K * 4).fill(1) });
rows.push(['Integral (mean distance)', integral.y.reduce((s, v) => s + v, 0) / integral.y.length, { x: integral.gradX }]);
const giou = await gfl.giouLoss({ pred: predBoxes, target: targetBoxes }, { weight: quality, avgFactor: 1, lossWeight: 2 });
rows.push(['GIoU (λ 2)', giou.loss, { pred: giou.gradPred }]);
const ciou = await gfl.ciouLoss({ pred: predBoxes, target: targetBoxes }, { reduction: 'sum' });
rows.push(['1 − CIoU (ultralytics)', ciou.loss, { pred: ciou.gradPred }]);
const gen = await gfl.generalizedFocalLoss(general, { beta: 2 });
rows.push(['general GFL form (β = 2)', gen.loss, { probLeft: gen.gradProbLeft, probRight: gen.gradProbRight }]);
const ms = performance.now() - t0;

const pad = (s, n) => String(s).padEnd(n);
console.log(`${pad('loss', 28)}${pad('value', 16)}gradient norms`);
for (const [name, value, grads] of rows) {
  const g = Object.entries(grads).map(([k, v]) => `‖∂/∂${k}‖ = ${norm(v).toExponential(4)}`).join(', ');
  console.log(`${pad(name, 28)}${pad(value.toFixed(6), 16)}${g}`);
}
console.log(`\nall ${rows.length} calls, forward + gradient, validation and copies included: ${ms.toFixed(1)} ms`);
gfl.dispose();
