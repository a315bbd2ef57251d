// Assignment (+ loss) for a batch of 8 images with 20 gt boxes each at 640 × 640 (the bar: assignment + loss
// under 15 ms). Times, single-threaded, per backend:
//   ATSS targets (GFLHead.get_targets, 8 × 8,525 anchors), and step() = ATSS + GFL head loss (C = 80, 17 bins);
//   task-aligned assignment (8 × 8,400 anchors, nc = 80) and TAL + yoloV8Loss.
// Median and minimum of repeated runs after warm-up. Run: npm run build && node bench/assign.mjs
import { createGflSync, anchorPoints } from '../dist/index.js';
import { mulberry32 as rng } from './common.mjs';

const B = 8, G = 20, C = 80, S = 640;
const r = rng(2024);
const gtBoxes = [], gtLabels = [];
for (let b = 0; b < B; b++) {
  const boxes = new Float32Array(G * 4), labels = new Int32Array(G);
  for (let g = 0; g < G; g++) {
    const w = 16 + r() * 300, h = 16 + r() * 300, x = r() * (S - w), y = r() * (S - h);
    boxes.set([x, y, x + w, y + h], g * 4);
    labels[g] = Math.floor(r() * C);
  }
  gtBoxes.push(boxes); gtLabels.push(labels);
}
const flatBoxes = new Float32Array(B * G * 4), flatLabels = new Int32Array(B * G);
gtBoxes.forEach((bx, b) => { flatBoxes.set(bx, b * G * 4); flatLabels.set(gtLabels[b], b * G); });

function time(fn, reps = 15) {
  for (let i = 0; i < 3; i++) fn();
  const t = [];
  for (let i = 0; i < reps; i++) { const t0 = performance.now(); fn(); t.push(performance.now() - t0); }
  t.sort((a, b) => a - b);
  return { median: t[Math.floor(t.length / 2)], min: t[0] };
}
const fmt = (x) => `${x.median.toFixed(2)} ms (min ${x.min.toFixed(2)})`;

// GFL: 5 levels, 8,525 anchors per image; head outputs N = B · 8,525 rows
const perImage = [8, 16, 32, 64, 128].reduce((s, st) => s + Math.ceil(S / st) ** 2, 0);
const N = B * perImage;
const cls = new Float32Array(N * C);
for (let i = 0; i < cls.length; i++) cls[i] = -4 + 3 * (r() - 0.5);
const reg = new Float32Array(N * 68);
for (let i = 0; i < reg.length; i++) reg[i] = 2 * (r() - 0.5);

// YOLO: 3 levels, 8,400 anchors; TAL inputs
const ap = anchorPoints({ featShapes: [[80, 80], [40, 40], [20, 20]], strides: [8, 16, 32] });
const A = ap.strides.length;
const pts = new Float32Array(A * 2);
for (let a = 0; a < A; a++) { pts[2 * a] = ap.points[2 * a] * ap.strides[a]; pts[2 * a + 1] = ap.points[2 * a + 1] * ap.strides[a]; }
const predScores = new Float32Array(B * A * C);
for (let i = 0; i < predScores.length; i++) predScores[i] = -4 + 3 * (r() - 0.5);
const pdScores = predScores.map((x) => 1 / (1 + Math.exp(-x)));
const pdBboxes = new Float32Array(B * A * 4);
for (let i = 0; i < B * A; i++) {
  const a = i % A, cx = pts[2 * a], cy = pts[2 * a + 1], w = 8 + r() * 200, h = 8 + r() * 200;
  pdBboxes.set([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], i * 4);
}
const predDistri = new Float32Array(B * A * 64);
for (let i = 0; i < predDistri.length; i++) predDistri[i] = 2 * (r() - 0.5);

console.log(`batch ${B} images × ${G} gt boxes, ${S}×${S}; GFL N = ${N} rows × C ${C}; YOLO A = ${A} per image, nc ${C}`);
for (const backend of ['wasm-simd', 'wasm-scalar']) {
  const g = createGflSync({ backend });
  const atss = time(() => g.atssTargetsSync({ gtBboxes: flatBoxes, gtLabels: flatLabels, numGts: new Array(B).fill(G) }, { numClasses: C, padShape: [S, S] }));
  let pos = 0;
  const step = time(() => { pos = g.stepSync({ clsLogits: cls, regLogits: reg, gtBoxes, gtLabels, imageSize: [S, S] }).numPos; });
  let tal;
  const talT = time(() => { tal = g.taskAlignedAssignSync({ pdScores, pdBboxes, anchorPoints: pts, gtLabels: flatLabels, gtBboxes: flatBoxes }); });
  const talLoss = time(() => {
    const t = g.taskAlignedAssignSync({ pdScores, pdBboxes, anchorPoints: pts, gtLabels: flatLabels, gtBboxes: flatBoxes });
    g.yoloV8LossSync({ predScores, predDistri, targetBboxes: t.targetBboxes, targetScores: t.targetScores, fgMask: t.fgMask },
      { levels: [[80, 80], [40, 40], [20, 20]], strides: [8, 16, 32], batchSize: B });
  });
  console.log(`${backend}:`);
  console.log(`  ATSS targets (GFLHead.get_targets)          ${fmt(atss)}`);
  console.log(`  step(): ATSS + GFL head loss + gradients     ${fmt(step)}   (${pos} positives)`);
  console.log(`  task-aligned assignment                      ${fmt(talT)}   (${tal.numFg} foreground)`);
  console.log(`  task-aligned + yoloV8Loss + gradients        ${fmt(talLoss)}`);
}
