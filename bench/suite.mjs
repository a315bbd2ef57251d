#!/usr/bin/env node
// The gfloss benchmark suite: forward + gradient of the GFL losses against the peers and the physical limit.
//
// Workloads (C = 80 classes, 17 bins, 5 % positive anchors, the calls GFLHead makes):
//   qfl    qualityFocalLoss  N × C logits, β = 2, avgFactor = #positives          outputs gradPred, gradScore
//   dfl    distributionFocalLoss  M = 4·K rows × 17 bins, weight = box quality ×4,
//          avgFactor 4, lossWeight 0.25                                             outputs gradPred, gradTarget
//   giou   giouLoss  K box pairs, weight = box quality, avgFactor 1, lossWeight 2  outputs gradPred, gradTarget
//   head   gflHeadLoss, when the package has it (reported as absent otherwise)
//   step   Gfl.step (anchors + ATSS targets + head loss, 20 gt boxes per image), when the package has it
// at b1 (N = 8,400 anchors, one 640×640 image) and b8 (N = 67,200), K = 5 % of N.
//
// Contenders, all measured in the same run:
//   wasm-scalar, wasm-simd, and every threads backend the API reports (at 1 and 2 threads), through the public API
//     with preallocated `out` (the steady-state training call: validation + copy-in + kernel + copy-out);
//   zero-copy×1, zero-copy×2  the threads build on 1 and 2 threads with the large inputs and the gradients in
//     Gfl.allocate() buffers (QFL, DFL, the head loss and the step): read and written in place, as a training loop that
//     keeps its tensors in gfloss memory calls it (separate instances, so the others' memory figures stay as they were);
//   js         a plain-JavaScript fused one-pass loop per loss written here (float64 math), checked against gfloss;
//   tfjs-wasm  the same losses composed from TensorFlow.js 4.22 ops with tf.valueAndGrads on @tensorflow/tfjs-backend-wasm,
//   tfjs-cpu   and on the cpu backend; checked against the public goldens (test/data/goldens) before any timing.
//              Gradients are read back with dataSync(), as gfloss returns JS arrays.
// Input distributions (both reported): 'detector' (class logits ~ N(−4.6, 1), positives' target logit ~ N(0, 2); DFL
// logits peaked around the target bin) and 'uniform' (all logits ~ U[−8, 8]). Boxes are the same in both.
//
// The physical limit, measured in the same run: the streaming bandwidth of a wasm SIMD copy (v128 load/store, 4×
// unrolled) over 128 MiB read + 128 MiB written (past the caches: each array four times the 32 MiB last-level cache of
// the machines we run on, as the STREAM benchmark asks), on 1 thread and split over 2 workers (never counted slower
// than 1 thread); a workload's bound is its minimum bytes (its inputs read once, its outputs written
// once) at that bandwidth, and each row shows its median as a multiple of it (×bound). Each row also shows its median
// as a multiple of the same copy over exactly the workload's bytes (×copy): a stricter yardstick, since a buffer of
// tens of MB partly stays in the last-level cache from one repetition to the next.
//
// Method: every (loss, batch) runs in a fresh child process (its peak RSS is that workload's); a correctness gate
// (js vs every gfloss backend; tfjs vs js); warm-up; R interleaved rounds (contender order rotated per round, both
// distributions), each sample the mean of `inner` calls (inner chosen so a sample lasts ≥ 1 ms); min / median / max.
// Cold first step (import + create + first call of QFL, DFL, GIoU at b8) in a fresh process per contender.
// A fixed JS loop timed at start and end (CPU-contention probe) and the load average.
//
// Usage: node bench/suite.mjs [--quick] [--json PATH] [--svg PATH] [--rounds R] [--only qfl,dfl,giou,head,step]
//          [--batch b1,b8] [--no-tfjs] [--no-tfjs-cpu] [--tfjs-cpu-b8] [--no-cold]
//        node bench/suite.mjs --from bench.json --svg docs/bench.svg     (redraws the chart from a saved run)
//   npm run bench -- --json bench.json --svg docs/bench.svg      (npx gfloss bench passes its arguments here too)
// The default run takes 2–6 minutes on a 2-core machine (more when it is shared); --quick 1–3.
// Exit status: 0 when every correctness gate passes; 1 when gfloss and the JS reference disagree; 2 on bad arguments.

import os from 'node:os';
import { readFileSync, writeFileSync, mkdirSync, existsSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';
import { Worker } from 'node:worker_threads';
import { qflJs, mulberry32, gaussian, makeTargets } from './common.mjs';

const SELF = fileURLToPath(import.meta.url);
const ROOT = join(dirname(SELF), '..');
// GFLOSS_BENCH_DIST: another build folder (for example a snapshot of dist/ taken while others rebuild it)
const DIST_DIR = process.env.GFLOSS_BENCH_DIST ?? join(ROOT, 'dist');
const DIST = pathToFileURL(join(DIST_DIR, 'index.js')).href;

const C = 80;
const BINS = 17;
const BETA = 2;
const POS_FRACTION = 0.05;
const FLOAT32_EPS = 1.1920928955078125e-7;
const SEED = 0x6f1c2a;
const BATCHES = { b1: 8400, b8: 67200 };
const LOSS_KEYS = ['qfl', 'dfl', 'giou', 'head', 'step'];
/** Workloads that exist only when dist has the method. */
const NEEDS = { head: 'gflHeadLossSync', step: 'stepSync' };
const TITLES = { qfl: 'QFL', dfl: 'DFL', giou: 'GIoU', head: 'GFL head loss', step: 'training step' };
const DIST_KEYS = ['detector', 'uniform'];

// ---------------------------------------------------------------------------------------------
// arguments

function parseArgs(argv) {
  const a = {
    quick: false, json: undefined, svg: undefined, rounds: undefined, only: undefined, batches: Object.keys(BATCHES),
    tfjs: true, tfjsCpu: true, tfjsCpuB8: false, cold: true, child: undefined, cold1: undefined, golden: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const need = () => {
      if (i + 1 >= argv.length) usage(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--quick') a.quick = true;
    else if (k === '--json') a.json = need();
    else if (k === '--svg') a.svg = need();
    else if (k === '--rounds') {
      a.rounds = Number(need());
      if (!Number.isInteger(a.rounds) || a.rounds < 1) usage('--rounds expects a positive integer');
    } else if (k === '--only') {
      a.only = need().split(',');
    } else if (k === '--batch') {
      a.batches = need().split(',');
      for (const b of a.batches) if (!(b in BATCHES)) usage(`--batch: unknown batch ${b} (b1, b8)`);
    } else if (k === '--no-tfjs') a.tfjs = false;
    else if (k === '--no-tfjs-cpu') a.tfjsCpu = false;
    else if (k === '--tfjs-cpu-b8') a.tfjsCpuB8 = true;
    else if (k === '--no-cold') a.cold = false;
    else if (k === '--child') a.child = JSON.parse(need());
    else if (k === '--cold-child') a.cold1 = need();
    else if (k === '--golden-child') a.golden = true;
    else if (k === '--from') a.from = need();
    else if (k === '-h' || k === '--help') usage();
    else usage(`unknown argument ${k}`);
  }
  for (const l of a.only ?? []) if (!LOSS_KEYS.includes(l)) usage(`--only: unknown loss ${l} (${LOSS_KEYS.join(', ')})`);
  if (a.quick) {
    a.rounds ??= 3;
    a.cold = false;
    a.tfjsCpu = false;
  }
  a.rounds ??= 5;
  return a;
}

function usage(msg) {
  if (msg) console.error(`bench/suite.mjs: ${msg}`);
  console.error('usage: node bench/suite.mjs [--quick] [--json PATH] [--svg PATH] [--rounds R] [--only qfl,dfl,giou,head,step] ' +
    '[--batch b1,b8] [--no-tfjs] [--no-tfjs-cpu] [--tfjs-cpu-b8] [--no-cold]\n' +
    '       node bench/suite.mjs --from RUN.json --svg PATH   (redraw the chart of a saved run)');
  process.exit(msg ? 2 : 0);
}

// ---------------------------------------------------------------------------------------------
// data

/** Everything one batch needs, for one distribution. Targets and boxes do not depend on the distribution. */
function makeBatch(batch, dist, which = LOSS_KEYS) {
  const N = BATCHES[batch];
  const rand = mulberry32(SEED ^ N);
  const g = gaussian(rand);
  const { label, score, npos: K } = makeTargets(rand, N, C, POS_FRACTION); // background = C
  // boxes of the K positives, in stride units as GFLHead decodes them: centre ± distances in [0, 15.9)
  const M = 4 * K;
  const distT = new Float32Array(M);
  const boxWeight = new Float32Array(K);
  const weight4 = new Float32Array(M);
  const boxT = new Float32Array(4 * K), boxP = new Float32Array(4 * K);
  for (let k = 0; k < K; k++) {
    const cx = 80 * rand(), cy = 80 * rand();
    boxWeight[k] = 0.05 + 0.95 * rand();
    const dp = [];
    for (let s = 0; s < 4; s++) {
      const d = 0.05 + 15.8 * rand();
      distT[4 * k + s] = d;
      weight4[4 * k + s] = boxWeight[k];
      dp.push(Math.max(0, d + 1.5 * g()));
    }
    boxT.set([cx - distT[4 * k], cy - distT[4 * k + 1], cx + distT[4 * k + 2], cy + distT[4 * k + 3]], 4 * k);
    boxP.set([cx - dp[0], cy - dp[1], cx + dp[2], cy + dp[3]], 4 * k);
  }
  const drand = mulberry32(SEED ^ N ^ (dist === 'uniform' ? 0x55 : 0xaa));
  const dg = gaussian(drand);
  let pred;
  if (which.includes('qfl') || which.includes('head')) {
    pred = new Float32Array(N * C);
    if (dist === 'detector') {
      for (let e = 0; e < pred.length; e++) pred[e] = -4.6 + dg();
      for (let i = 0; i < N; i++) if (label[i] < C) pred[i * C + label[i]] = 2 * dg();
    } else {
      for (let e = 0; e < pred.length; e++) pred[e] = -8 + 16 * drand();
    }
  }
  const reg = new Float32Array(M * BINS);
  for (let r = 0; r < M; r++) {
    for (let j = 0; j < BINS; j++) {
      reg[r * BINS + j] = dist === 'detector'
        ? 4 - 0.5 * (j - distT[r]) * (j - distT[r]) + 0.5 * dg() // a peaked distribution near the target
        : -8 + 16 * drand();
    }
  }
  return { batch, dist, N, K, M, label, score, pred, reg, distT, weight4, boxWeight, boxP, boxT };
}

// ---------------------------------------------------------------------------------------------
// plain-JS fused references (float64 math, one pass, the same semantics as mmdetection v3.1)

/** DFL (mmdetection): per row L = wl·CE(l) + wr·CE(l+1); coef per row = weight·lossWeight/(avgFactor + ε). */
function dflJs(pred, target, weight, m, bins, scale, gradPred, gradTarget) {
  let total = 0;
  for (let r = 0; r < m; r++) {
    const off = r * bins;
    let mx = -Infinity;
    for (let j = 0; j < bins; j++) if (pred[off + j] > mx) mx = pred[off + j];
    let s = 0;
    for (let j = 0; j < bins; j++) s += Math.exp(pred[off + j] - mx);
    const lse = mx + Math.log(s);
    const y = target[r];
    const l = Math.floor(y);
    const wl = l + 1 - y, wr = y - l;
    const zl = pred[off + l], zr = pred[off + l + 1];
    const coef = weight[r] * scale;
    total += weight[r] * (wl * (lse - zl) + wr * (lse - zr));
    const inv = (wl + wr) / s;
    for (let j = 0; j < bins; j++) gradPred[off + j] = coef * Math.exp(pred[off + j] - mx) * inv;
    gradPred[off + l] -= coef * wl;
    gradPred[off + l + 1] -= coef * wr;
    gradTarget[r] = coef * (zl - zr);
  }
  return scale * total;
}

/** torch's subgradient of max(a, b) with respect to a: 1, 0.5 on a tie, 0. */
const gmax = (a, b) => (a > b ? 1 : a === b ? 0.5 : 0);

/** GIoU loss (mmdetection GIoULoss, eps 1e-6 via max, torch's tie rules); gradients for pred and target. */
function giouJs(p, t, weight, k, scale, eps, gradP, gradT) {
  let total = 0;
  for (let i = 0; i < k; i++) {
    const o = 4 * i;
    const p1x = p[o], p1y = p[o + 1], p2x = p[o + 2], p2y = p[o + 3];
    const t1x = t[o], t1y = t[o + 1], t2x = t[o + 2], t2y = t[o + 3];
    const ltx = Math.max(p1x, t1x), lty = Math.max(p1y, t1y), rbx = Math.min(p2x, t2x), rby = Math.min(p2y, t2y);
    const wx = rbx - ltx, wy = rby - lty;
    const cwx = wx > 0 ? wx : 0, cwy = wy > 0 ? wy : 0;
    const ov = cwx * cwy;
    const apw = p2x - p1x, aph = p2y - p1y, atw = t2x - t1x, ath = t2y - t1y;
    const ur = apw * aph + atw * ath - ov;
    const u = Math.max(ur, eps);
    const ex1 = Math.min(p1x, t1x), ey1 = Math.min(p1y, t1y), ex2 = Math.max(p2x, t2x), ey2 = Math.max(p2y, t2y);
    const ewx = ex2 - ex1, ewy = ey2 - ey1;
    const cex = ewx > 0 ? ewx : 0, cey = ewy > 0 ? ewy : 0;
    const er = cex * cey;
    const e = Math.max(er, eps);
    const loss = 1 - (ov / u - (e - u) / e);
    total += weight[i] * loss;
    const g = weight[i] * scale;
    const gE = g * u / (e * e);
    const gU = g * (ov / (u * u) - 1 / e);
    let gO = -g / u;
    const gUr = gU * gmax(ur, eps);
    gO -= gUr;
    const gEr = gE * gmax(er, eps);
    const gewx = ewx >= 0 ? gEr * cey : 0, gewy = ewy >= 0 ? gEr * cex : 0;
    const gwx = wx >= 0 ? gO * cwy : 0, gwy = wy >= 0 ? gO * cwx : 0;
    // ex2 = max(p2x, t2x), ex1 = min(p1x, t1x) = −max(−p1x, −t1x); rb = min(p2, t2); lt = max(p1, t1)
    gradP[o] = -gewx * gmax(-p1x, -t1x) - gwx * gmax(p1x, t1x) - gUr * aph;
    gradP[o + 1] = -gewy * gmax(-p1y, -t1y) - gwy * gmax(p1y, t1y) - gUr * apw;
    gradP[o + 2] = gewx * gmax(p2x, t2x) + gwx * gmax(-p2x, -t2x) + gUr * aph;
    gradP[o + 3] = gewy * gmax(p2y, t2y) + gwy * gmax(-p2y, -t2y) + gUr * apw;
    gradT[o] = -gewx * gmax(-t1x, -p1x) - gwx * gmax(t1x, p1x) - gUr * ath;
    gradT[o + 1] = -gewy * gmax(-t1y, -p1y) - gwy * gmax(t1y, p1y) - gUr * atw;
    gradT[o + 2] = gewx * gmax(t2x, p2x) + gwx * gmax(-t2x, -p2x) + gUr * ath;
    gradT[o + 3] = gewy * gmax(t2y, p2y) + gwy * gmax(-t2y, -p2y) + gUr * atw;
  }
  return scale * total;
}

/**
 * The GFL head's inputs for a batch (GFLHead.loss_by_feat given the assignment): levels of a 640×640 image at strides
 * 8/16/32 (80² + 40² + 20² = 8,400 rows per image), rows level-major then image; anchors 8·stride squares centred on
 * (x·s, y·s); the positives are makeBatch's, with target boxes centre ± distT·s; box logits as makeBatch's DFL logits
 * at the positives and noise elsewhere (never read).
 */
function makeHead(d) {
  const N = d.N, B = N / 8400, RW = 4 * BINS;
  const levels = [[80, 80], [40, 40], [20, 20]], strides = [8, 16, 32];
  const anchors = new Float32Array(4 * N), stride = new Float32Array(N), image = new Int32Array(N);
  let row = 0;
  levels.forEach(([h, w], l) => {
    const s = strides[l];
    for (let b = 0; b < B; b++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++, row++) {
          anchors.set([x * s - 4 * s, y * s - 4 * s, x * s + 4 * s, y * s + 4 * s], 4 * row);
          stride[row] = s;
          image[row] = b;
        }
      }
    }
  });
  const bboxTargets = new Float32Array(4 * N);
  const bboxPred = new Float32Array(N * RW);
  const rand = mulberry32(SEED ^ 0x4ead ^ N ^ (d.dist === 'uniform' ? 1 : 0));
  for (let e = 0; e < bboxPred.length; e++) bboxPred[e] = d.dist === 'uniform' ? -8 + 16 * rand() : 2 * rand() - 1;
  for (let i = 0, k = 0; i < N; i++) {
    if (d.label[i] >= C) continue;
    const s = stride[i], cx = (anchors[4 * i] + anchors[4 * i + 2]) / 2, cy = (anchors[4 * i + 1] + anchors[4 * i + 3]) / 2;
    const t = d.distT.subarray(4 * k, 4 * k + 4);
    bboxTargets.set([cx - t[0] * s, cy - t[1] * s, cx + t[2] * s, cy + t[3] * s], 4 * i);
    bboxPred.set(d.reg.subarray(4 * k * BINS, 4 * (k + 1) * BINS), i * RW);
    k++;
  }
  return {
    N, B, levels, anchors, stride, image, bboxTargets, bboxPred, labelWeights: new Float32Array(N).fill(1),
    input: { clsScore: d.pred, bboxPred, anchors, stride, labels: d.label, labelWeights: new Float32Array(N).fill(1), bboxTargets },
    options: { numClasses: C, bins: BINS, numImages: B, levels },
  };
}

/**
 * The GFL head loss in plain JS (SEMANTICS.md §5), from the fused pieces above: per positive, w = max σ(cls) and the
 * Integral → decode (stride units) → IoU score (detached) → GIoU, DFL on the clamped corners; then QFL over every
 * logit with the IoU scores. Gradients: QFL into clsScore; GIoU through the decode and the Integral, plus DFL, into
 * bboxPred (zero at other rows).
 */
function headJs(d, h) {
  const N = d.N, RW = 4 * BINS, eps = 1e-6;
  const gradCls = new Float32Array(N * C), gradBox = new Float32Array(N * RW), gradScore = new Float32Array(N);
  const score = new Float32Array(N);
  const pos = [];
  for (let i = 0; i < N; i++) if (d.label[i] >= 0 && d.label[i] < C) pos.push(i);
  const K = pos.length;
  const perImage = new Int32Array(h.B);
  const w = new Float64Array(K), prob = new Float64Array(K * RW), yhat = new Float64Array(4 * K);
  const pbox = new Float64Array(4 * K), tbox = new Float64Array(4 * K), corners = new Float64Array(4 * K);
  let sumW = 0;
  for (let k = 0; k < K; k++) {
    const i = pos[k];
    perImage[h.image[i]]++;
    let mx = -Infinity;
    for (let c = 0; c < C; c++) mx = Math.max(mx, d.pred[i * C + c]);
    w[k] = 1 / (1 + Math.exp(-mx));
    sumW += w[k];
    const s = h.stride[i];
    const cx = (h.anchors[4 * i] + h.anchors[4 * i + 2]) / 2 / s, cy = (h.anchors[4 * i + 1] + h.anchors[4 * i + 3]) / 2 / s;
    for (let side = 0; side < 4; side++) {
      const o = i * RW + side * BINS, q = k * RW + side * BINS;
      let m = -Infinity;
      for (let j = 0; j < BINS; j++) m = Math.max(m, h.bboxPred[o + j]);
      let sum = 0;
      for (let j = 0; j < BINS; j++) sum += (prob[q + j] = Math.exp(h.bboxPred[o + j] - m));
      let e = 0;
      for (let j = 0; j < BINS; j++) { prob[q + j] /= sum; e += j * prob[q + j]; }
      yhat[4 * k + side] = e;
    }
    const [l, t, r, b] = yhat.subarray(4 * k, 4 * k + 4);
    pbox.set([cx - l, cy - t, cx + r, cy + b], 4 * k);
    const T = [0, 1, 2, 3].map((j) => h.bboxTargets[4 * i + j] / s);
    tbox.set(T, 4 * k);
    const cl = (v) => Math.min(Math.max(v, 0), BINS - 1 - 0.1);
    corners.set([cl(cx - T[0]), cl(cy - T[1]), cl(T[2] - cx), cl(T[3] - cy)], 4 * k);
    const ov = Math.max(Math.min(pbox[4 * k + 2], T[2]) - Math.max(pbox[4 * k], T[0]), 0)
      * Math.max(Math.min(pbox[4 * k + 3], T[3]) - Math.max(pbox[4 * k + 1], T[1]), 0);
    const union = (pbox[4 * k + 2] - pbox[4 * k]) * (pbox[4 * k + 3] - pbox[4 * k + 1]) + (T[2] - T[0]) * (T[3] - T[1]) - ov;
    score[i] = ov / Math.max(union, eps);
  }
  const bboxAvg = Math.max(sumW, 1);
  // GIoU on the decoded boxes, weight w
  const gP = new Float32Array(4 * K), gT = new Float32Array(4 * K);
  const lossBbox = giouJs(pbox, tbox, w, K, 2 / (1 + FLOAT32_EPS) / bboxAvg, eps, gP, gT);
  // DFL on the corners, weight w per side
  const reg = new Float32Array(4 * K * BINS), w4 = new Float64Array(4 * K);
  for (let k = 0; k < K; k++) {
    reg.set(h.bboxPred.subarray(pos[k] * RW, (pos[k] + 1) * RW), k * RW);
    w4.fill(w[k], 4 * k, 4 * k + 4);
  }
  const gReg = new Float32Array(4 * K * BINS), gCorner = new Float32Array(4 * K);
  const lossDfl = dflJs(reg, corners, w4, 4 * K, BINS, 0.25 / (4 + FLOAT32_EPS) / bboxAvg, gReg, gCorner);
  for (let k = 0; k < K; k++) {
    const o = pos[k] * RW;
    // decode: (x1, y1, x2, y2) = (cx − l, cy − t, cx + r, cy + b)
    const gs = [-gP[4 * k], -gP[4 * k + 1], gP[4 * k + 2], gP[4 * k + 3]];
    for (let side = 0; side < 4; side++) {
      const q = k * RW + side * BINS, e = yhat[4 * k + side];
      for (let j = 0; j < BINS; j++) gradBox[o + side * BINS + j] = prob[q + j] * (j - e) * gs[side] + gReg[q + j];
    }
  }
  let af = 0;
  for (const p of perImage) af += Math.max(p, 1);
  const lossCls = qflJs(d.pred, d.label, score, N, C, 2, 1 / (af + FLOAT32_EPS), gradCls, gradScore);
  return { loss: lossCls + lossBbox + lossDfl, gradClsScore: gradCls, gradBboxPred: gradBox };
}

/**
 * The training step's inputs (Gfl.step: GFL anchors → ATSS targets → head loss): B = 1 or 8 images of 640×640 at the
 * default strides 8–128 (8,525 rows per image), 20 gt boxes per image (sides 32–320 px, random classes), class logits
 * as the distribution says, box logits ~ N(0, 1) (detector) or U[−8, 8].
 */
function makeStep(batch, dist) {
  const B = BATCHES[batch] / 8400, rows = B * 8525, G = 20;
  const rand = mulberry32(SEED ^ 0x57e9 ^ B), g = gaussian(rand);
  const gtBoxes = [], gtLabels = [];
  for (let b = 0; b < B; b++) {
    const boxes = new Float32Array(4 * G), labels = new Int32Array(G);
    for (let k = 0; k < G; k++) {
      const w = 32 + 288 * rand(), h = 32 + 288 * rand(), x = (640 - w) * rand(), y = (640 - h) * rand();
      boxes.set([x, y, x + w, y + h], 4 * k);
      labels[k] = Math.floor(rand() * C);
    }
    gtBoxes.push(boxes);
    gtLabels.push(labels);
  }
  const drand = mulberry32(SEED ^ 0x57e9 ^ B ^ (dist === 'uniform' ? 0x55 : 0xaa)), dg = gaussian(drand);
  const cls = new Float32Array(rows * C), reg = new Float32Array(rows * 4 * BINS);
  for (let e = 0; e < cls.length; e++) cls[e] = dist === 'detector' ? -4.6 + dg() : -8 + 16 * drand();
  for (let e = 0; e < reg.length; e++) reg[e] = dist === 'detector' ? dg() : -8 + 16 * drand();
  return {
    batch, dist, N: rows, B, G, K: undefined,
    input: { clsLogits: cls, regLogits: reg, gtBoxes, gtLabels, imageSize: [640, 640] },
  };
}

// ---------------------------------------------------------------------------------------------
// the losses: how each contender computes them, and what they move

const GIOU_EPS = 1e-6;

const LOSSES = {
  qfl: {
    elements: (d) => d.N * C,
    elementUnit: 'logit',
    shape: (d) => `N = ${d.N.toLocaleString('en-US')} × C = ${C}`,
    // read logits, labels, scores; write gradPred, gradScore
    minBytes: (d) => 8 * d.N * C + 12 * d.N,
    grads: ['gradPred', 'gradScore'],
    outs: (d) => ({ gradPred: new Float32Array(d.N * C), gradScore: new Float32Array(d.N) }),
    gfloss: (g, d, out, async) => {
      const input = { pred: d.pred, label: d.label, score: d.score };
      const opts = { beta: BETA, avgFactor: d.K, out };
      return async ? () => g.qualityFocalLoss(input, opts) : () => g.qualityFocalLossSync(input, opts);
    },
    inPlace: (g, d) => ({ ...d, pred: copyTo(g, d.pred), label: copyTo(g, d.label), score: copyTo(g, d.score) }),
    outsInPlace: (g, d) => ({ gradPred: g.allocate(d.N * C), gradScore: g.allocate(d.N) }),
    js: (d) => {
      const gradPred = new Float32Array(d.N * C), gradScore = new Float32Array(d.N);
      const coef = 1 / (d.K + FLOAT32_EPS);
      return () => ({ loss: qflJs(d.pred, d.label, d.score, d.N, C, 2, coef, gradPred, gradScore), gradPred, gradScore });
    },
    tfjs: (tf, d) => {
      const x = tf.tensor2d(d.pred, [d.N, C]), label = tf.tensor1d(d.label, 'int32'), score = tf.tensor1d(d.score);
      const scale = 1 / (d.K + FLOAT32_EPS);
      return { call: () => tfQfl(tf, x, label, score, null, scale, C), dispose: () => tf.dispose([x, label, score]) };
    },
  },
  dfl: {
    elements: (d) => d.M * BINS,
    elementUnit: 'bin logit',
    shape: (d) => `M = ${d.M.toLocaleString('en-US')} × ${BINS} bins`,
    // read logits, targets, weights; write gradPred, gradTarget
    minBytes: (d) => 8 * d.M * BINS + 16 * d.M,
    grads: ['gradPred', 'gradTarget'],
    outs: (d) => ({ gradPred: new Float32Array(d.M * BINS), gradTarget: new Float32Array(d.M) }),
    gfloss: (g, d, out, async) => {
      const input = { pred: d.reg, target: d.distT };
      const opts = { bins: BINS, weight: d.weight4, avgFactor: 4, lossWeight: 0.25, out };
      return async ? () => g.distributionFocalLoss(input, opts) : () => g.distributionFocalLossSync(input, opts);
    },
    inPlace: (g, d) => ({ ...d, reg: copyTo(g, d.reg), distT: copyTo(g, d.distT) }),
    outsInPlace: (g, d) => ({ gradPred: g.allocate(d.M * BINS), gradTarget: g.allocate(d.M) }),
    js: (d) => {
      const gradPred = new Float32Array(d.M * BINS), gradTarget = new Float32Array(d.M);
      const scale = 0.25 / (4 + FLOAT32_EPS);
      return () => ({ loss: dflJs(d.reg, d.distT, d.weight4, d.M, BINS, scale, gradPred, gradTarget), gradPred, gradTarget });
    },
    tfjs: (tf, d) => {
      const z = tf.tensor2d(d.reg, [d.M, BINS]), y = tf.tensor1d(d.distT), w = tf.tensor1d(d.weight4);
      const scale = 0.25 / (4 + FLOAT32_EPS);
      return { call: () => tfDfl(tf, z, y, w, scale, BINS), dispose: () => tf.dispose([z, y, w]) };
    },
  },
  giou: {
    elements: (d) => d.K,
    elementUnit: 'box pair',
    shape: (d) => `K = ${d.K.toLocaleString('en-US')} box pairs`,
    // read pred, target boxes, weights; write gradPred, gradTarget
    minBytes: (d) => 68 * d.K,
    grads: ['gradPred', 'gradTarget'],
    outs: (d) => ({ gradPred: new Float32Array(4 * d.K), gradTarget: new Float32Array(4 * d.K) }),
    gfloss: (g, d, out, async) => {
      const input = { pred: d.boxP, target: d.boxT };
      const opts = { weight: d.boxWeight, avgFactor: 1, lossWeight: 2, out };
      return async ? () => g.giouLoss(input, opts) : () => g.giouLossSync(input, opts);
    },
    js: (d) => {
      const gradPred = new Float32Array(4 * d.K), gradTarget = new Float32Array(4 * d.K);
      const scale = 2 / (1 + FLOAT32_EPS);
      return () => ({ loss: giouJs(d.boxP, d.boxT, d.boxWeight, d.K, scale, GIOU_EPS, gradPred, gradTarget), gradPred, gradTarget });
    },
    tfjs: (tf, d) => {
      const p = tf.tensor2d(d.boxP, [d.K, 4]), t = tf.tensor2d(d.boxT, [d.K, 4]), w = tf.tensor1d(d.boxWeight);
      const scale = 2 / (1 + FLOAT32_EPS);
      return { call: () => tfGiou(tf, p, t, w, scale, GIOU_EPS), dispose: () => tf.dispose([p, t, w]) };
    },
  },
  head: {
    elements: (d) => d.N * (C + 4 * BINS),
    elementUnit: 'logit (class + box)',
    shape: (d) => `N = ${d.N.toLocaleString('en-US')} × (C + 4·${BINS})`,
    // read clsScore, labels, labelWeights, the positives' box logits, anchors, strides and targets;
    // write gradClsScore and gradBboxPred (dense, as the API returns it)
    minBytes: (d) => 8 * d.N * C + 8 * d.N + 16 * BINS * d.N + (16 * BINS + 36) * d.K,
    grads: ['gradClsScore', 'gradBboxPred'],
    outs: (d) => ({ gradClsScore: new Float32Array(d.N * C), gradBboxPred: new Float32Array(d.N * 4 * BINS) }),
    gfloss: (g, d, out, async) => {
      const h = d.head ??= makeHead(d);
      const opts = { ...h.options, out };
      return async ? () => g.gflHeadLoss(h.input, opts) : () => g.gflHeadLossSync(h.input, opts);
    },
    inPlace: (g, d) => {
      const h = d.head ??= makeHead(d);
      return { ...d, head: { ...h, input: { ...h.input, clsScore: copyTo(g, h.input.clsScore), bboxPred: copyTo(g, h.input.bboxPred) } } };
    },
    outsInPlace: (g, d) => ({ gradClsScore: g.allocate(d.N * C), gradBboxPred: g.allocate(d.N * 4 * BINS) }),
    js: (d) => {
      const h = d.head ??= makeHead(d);
      return () => headJs(d, h);
    },
  },
  step: {
    elements: (d) => d.N * (C + 4 * BINS),
    elementUnit: 'logit (class + box)',
    shape: (d) => `${d.B} × 8,525 × (C + 4·${BINS}), ${d.G} gts/img`,
    // logits in, both gradients out (dense); the assignment's own reads (gt boxes, anchors) are not counted
    minBytes: (d) => 8 * d.N * C + 16 * BINS * d.N,
    grads: ['gradClsScore', 'gradBboxPred'],
    outs: (d) => ({ gradClsScore: new Float32Array(d.N * C), gradBboxPred: new Float32Array(d.N * 4 * BINS) }),
    gfloss: (g, d, out, async) => {
      const opts = { numClasses: C, bins: BINS, out };
      return async ? () => g.step(d.input, opts) : () => g.stepSync(d.input, opts);
    },
    inPlace: (g, d) => ({ ...d, input: { ...d.input, clsLogits: copyTo(g, d.input.clsLogits), regLogits: copyTo(g, d.input.regLogits) } }),
    outsInPlace: (g, d) => ({ gradClsScore: g.allocate(d.N * C), gradBboxPred: g.allocate(d.N * 4 * BINS) }),
    // no plain-JS ATSS here: the reference is the first gfloss backend (wasm-scalar)
  },
};

// ---------------------------------------------------------------------------------------------
// the TensorFlow.js peer: the same losses composed from ops, differentiated by tf.valueAndGrads

/**
 * QFL on logits x [N, C] with labels (int32, C = background) and scores, β = 2. The positive mask is built with an
 * int32 oneHot cast to float32: tfjs 4.22's wasm oneHot with dtype 'float32' writes the int bits (1 → 1.4e-45).
 * Row sums over C first, then over rows, as mmdetection (also keeps tfjs' float32 sums shorter).
 */
function tfQfl(tf, x, label, score, weight, scale, c) {
  let out; // set inside: returning typed arrays from tf.tidy makes it walk every element (~1 s at b1)
  tf.tidy(() => {
    const mask = tf.cast(tf.oneHot(label, c), 'float32');
    const f = (xx, s) => {
      const sig = tf.sigmoid(xx);
      const sp = tf.softplus(xx);
      const neg = tf.mul(sp, tf.square(sig));
      const y = tf.mul(mask, tf.expandDims(s, 1));
      const pos = tf.mul(tf.sub(sp, tf.mul(xx, y)), tf.square(tf.sub(y, sig)));
      const l = tf.add(neg, tf.mul(mask, tf.sub(pos, neg)));
      let row = tf.sum(l, 1);
      if (weight) row = tf.mul(row, weight);
      return tf.mul(tf.sum(row), scale);
    };
    const { value, grads } = tf.valueAndGrads(f)([x, score]);
    out = { loss: value.dataSync()[0], gradPred: grads[0].dataSync(), gradScore: grads[1].dataSync() };
  });
  return out;
}

/** DFL over `bins` bins; the bin indices and their one-hot masks are constants (built inside the call). */
function tfDfl(tf, z, y, w, scale, bins) {
  let out; // set inside: returning typed arrays from tf.tidy makes it walk every element (~1 s at b1)
  tf.tidy(() => {
    const l = tf.floor(y);
    const li = tf.cast(l, 'int32');
    const ohl = tf.cast(tf.oneHot(li, bins), 'float32');
    const ohr = tf.cast(tf.oneHot(tf.add(li, tf.scalar(1, 'int32')), bins), 'float32');
    const f = (zz, yy) => {
      const wl = tf.sub(tf.add(l, 1), yy), wr = tf.sub(yy, l);
      const lse = tf.logSumExp(zz, 1);
      const zl = tf.sum(tf.mul(zz, ohl), 1), zr = tf.sum(tf.mul(zz, ohr), 1);
      const loss = tf.add(tf.mul(wl, tf.sub(lse, zl)), tf.mul(wr, tf.sub(lse, zr)));
      return tf.mul(tf.sum(tf.mul(loss, w)), scale);
    };
    const { value, grads } = tf.valueAndGrads(f)([z, y]);
    out = { loss: value.dataSync()[0], gradPred: grads[0].dataSync(), gradTarget: grads[1].dataSync() };
  });
  return out;
}

/** GIoU (mmdetection): clamp(min=0) as maximum(·, 0), which passes the gradient at 0 as torch's clamp does. */
function tfGiou(tf, p, t, w, scale, eps) {
  let out; // set inside: returning typed arrays from tf.tidy makes it walk every element (~1 s at b1)
  tf.tidy(() => {
    const f = (pp, tt) => {
      const [p1x, p1y, p2x, p2y] = tf.unstack(pp, 1);
      const [t1x, t1y, t2x, t2y] = tf.unstack(tt, 1);
      const wx = tf.maximum(tf.sub(tf.minimum(p2x, t2x), tf.maximum(p1x, t1x)), 0);
      const wy = tf.maximum(tf.sub(tf.minimum(p2y, t2y), tf.maximum(p1y, t1y)), 0);
      const ov = tf.mul(wx, wy);
      const ap = tf.mul(tf.sub(p2x, p1x), tf.sub(p2y, p1y));
      const at = tf.mul(tf.sub(t2x, t1x), tf.sub(t2y, t1y));
      const u = tf.maximum(tf.sub(tf.add(ap, at), ov), eps);
      const ex = tf.maximum(tf.sub(tf.maximum(p2x, t2x), tf.minimum(p1x, t1x)), 0);
      const ey = tf.maximum(tf.sub(tf.maximum(p2y, t2y), tf.minimum(p1y, t1y)), 0);
      const e = tf.maximum(tf.mul(ex, ey), eps);
      const giou = tf.sub(tf.div(ov, u), tf.div(tf.sub(e, u), e));
      return tf.mul(tf.sum(tf.mul(tf.sub(1, giou), w)), scale);
    };
    const { value, grads } = tf.valueAndGrads(f)([p, t]);
    out = { loss: value.dataSync()[0], gradPred: grads[0].dataSync(), gradTarget: grads[1].dataSync() };
  });
  return out;
}

let tfModule;
/** Loads tfjs-core with the wasm and cpu backends (dev dependencies); undefined when they are not installed. */
async function loadTf() {
  if (tfModule !== undefined) return tfModule;
  try {
    const log = console.log;
    console.log = (...a) => { if (!String(a[0]).includes('tfjs-node') && !String(a[0]).startsWith('====')) console.error(...a); };
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu');
    await import('@tensorflow/tfjs-backend-wasm');
    await registerTfGradients(tf.version_core);
    tf.env().set('IS_TEST', false);
    console.log = log;
    tfModule = tf;
  } catch (e) {
    tfModule = null;
    tfModule_error = e.message;
  }
  return tfModule;
}
let tfModule_error;

/**
 * tfjs-core's Node entry (dist/tf-core.node.js) registers no gradients (the @tensorflow/tfjs union package does that),
 * and its ESM files cannot be imported by Node as they are (no "type": "module"). So the bench bundles tfjs-core's own
 * dist/register_all_gradients.js with esbuild (a dev dependency) once into the temp folder and imports it: the
 * gradients register into tfjs' global registry, which every copy of tfjs-core shares.
 */
async function registerTfGradients(version) {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  const outfile = join(os.tmpdir(), `gfloss-bench-tfjs-gradients-${version}.mjs`);
  if (!existsSync(outfile)) {
    const { build } = await import('esbuild');
    const tmp = `${outfile}.${process.pid}.tmp.mjs`;
    await build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'node', outfile: tmp, logLevel: 'silent' });
    renameSync(tmp, outfile);
  }
  await import(pathToFileURL(outfile).href);
}

async function tfVersions(tf) {
  await tf.setBackend('wasm');
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  return { version: tf.version_core, wasmSimd: simd, wasmThreads: threads };
}

// ---------------------------------------------------------------------------------------------
// comparisons

function maxDiff(ref, got) {
  let d = 0, m = 0, bad = 0;
  if (!got || got.length !== ref.length) return { maxAbsDiff: Infinity, maxAbsRef: NaN, nonFinite: -1 };
  for (let i = 0; i < ref.length; i++) {
    const a = ref[i], b = got[i];
    if (!Number.isFinite(b)) bad++;
    const x = Math.abs(a - b);
    if (!(x <= d)) d = Number.isNaN(x) ? Infinity : x;
    if (Math.abs(a) > m) m = Math.abs(a);
  }
  return { maxAbsDiff: d, maxAbsRef: m, nonFinite: bad };
}

/** ref vs got: loss relative difference and, per gradient, max |Δ| relative to max |ref|. */
function compare(ref, got, grads, tolLoss, tolGrad) {
  const lossRel = Math.abs(got.loss - ref.loss) / Math.abs(ref.loss);
  const g = {};
  let ok = Number.isFinite(got.loss) && lossRel <= tolLoss;
  for (const k of grads) {
    const m = maxDiff(ref[k], got[k]);
    m.rel = m.maxAbsDiff / m.maxAbsRef;
    g[k] = m;
    if (!(m.rel <= tolGrad) || m.nonFinite !== 0) ok = false;
  }
  return { ok, loss: got.loss, refLoss: ref.loss, lossRel, grads: g };
}

const snapshot = (r, grads) => Object.fromEntries([['loss', r.loss], ...grads.map((k) => [k, Float32Array.from(r[k])])]);

// ---------------------------------------------------------------------------------------------
// goldens: the tfjs peer against the upstream-executed cases (the objective the bench times: weighted, averaged)

function readGolden(name) {
  const p = join(ROOT, 'test', 'data', 'goldens', name);
  const raw = readFileSync(p);
  return JSON.parse((p.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8'));
}
function tensor(t, Type = Float32Array) {
  if (t.encoding === 'base64-le') {
    const b = Buffer.from(t.data, 'base64');
    const f = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    return Type === Float32Array ? f : Type.from(f);
  }
  const flat = Array.isArray(t.data) ? t.data.flat(Infinity) : [t.data];
  return Type.from(flat.map(Number));
}

/** |ours − golden| ≤ atol + rtol·|golden|; returns the worst ratio (≤ 1 passes) and where; `skip(i)` leaves elements out. */
function goldenField(ours, golden, hint, skip = () => false) {
  const atol = hint?.atol ?? 1e-6, rtol = hint?.rtol ?? 1e-5;
  let worst = 0, at = -1;
  for (let i = 0; i < golden.length; i++) {
    if (skip(i)) continue;
    const r = Math.abs(ours[i] - golden[i]) / (atol + rtol * Math.abs(golden[i]));
    if (!(r <= worst)) { worst = Number.isNaN(r) ? Infinity : r; at = i; }
  }
  return { worst, at };
}

const GOLDEN_CASES = [
  { loss: 'qfl', file: 'qfl_beta2_N12_C4_s102.json', objective: 'loss_weighted_avg' },
  { loss: 'qfl', file: 'qfl_beta2_N2000_C80_s150.json.gz', objective: 'loss_sum' },
  { loss: 'dfl', file: 'dfl_n16_M24_s108.json', objective: 'loss_weighted_avg' },
  { loss: 'dfl', file: 'dfl_n16_M8000_s151.json.gz', objective: 'loss_sum' },
  { loss: 'giou', file: 'giou_K16_s110.json', objective: 'loss_weighted_gfl' },
];

async function goldenChild() {
  const tf = await loadTf();
  if (!tf) { process.stdout.write(JSON.stringify({ error: tfModule_error })); return; }
  const out = {};
  for (const backend of ['wasm', 'cpu']) {
    await tf.setBackend(backend);
    out[backend] = [];
    for (const gc of GOLDEN_CASES) {
      const c = readGolden(gc.file);
      const P = c.params, I = c.inputs;
      const weighted = gc.objective !== 'loss_sum';
      let r;
      if (gc.loss === 'qfl') {
        const [n, cc] = I.pred.shape;
        const x = tf.tensor2d(tensor(I.pred), [n, cc]), lab = tf.tensor1d(tensor(I.label, Int32Array), 'int32');
        const s = tf.tensor1d(tensor(I.score)), w = weighted ? tf.tensor1d(tensor(I.weight)) : null;
        const scale = weighted ? (P.loss_weight ?? 1) / (P.avg_factor + FLOAT32_EPS) : 1;
        r = tfQfl(tf, x, lab, s, w, scale, cc);
        r = { loss: r.loss, pred: r.gradPred, score: r.gradScore };
        tf.dispose([x, lab, s, w].filter(Boolean));
      } else if (gc.loss === 'dfl') {
        const [m, bins] = I.pred.shape;
        const z = tf.tensor2d(tensor(I.pred), [m, bins]), y = tf.tensor1d(tensor(I.label));
        const w = tf.tensor1d(weighted ? tensor(I.weight) : new Float32Array(m).fill(1));
        const scale = weighted ? P.loss_weight_for_weighted_avg / (P.avg_factor + FLOAT32_EPS) : 1;
        r = tfDfl(tf, z, y, w, scale, bins);
        r = { loss: r.loss, pred: r.gradPred, label: r.gradTarget };
        tf.dispose([z, y, w]);
      } else {
        const k = I.pred.shape[0];
        const p = tf.tensor2d(tensor(I.pred), [k, 4]), t = tf.tensor2d(tensor(I.target), [k, 4]), w = tf.tensor1d(tensor(I.weight));
        r = tfGiou(tf, p, t, w, 2 / (1 + FLOAT32_EPS), P.eps);
        r = { loss: r.loss, pred: r.gradPred, target: r.gradTarget };
        tf.dispose([p, t, w]);
      }
      const fields = [{ field: `outputs.${gc.objective}`, ...goldenField([r.loss], tensor(c.outputs[gc.objective]), c.tolerance_hint.outputs[gc.objective]) }];
      for (const [name, g] of Object.entries(c.grads[gc.objective])) {
        fields.push({ field: `grads.${gc.objective}.${name}`, ...goldenField(r[name], tensor(g), c.tolerance_hint.grads[gc.objective][name]) });
      }
      const worst = fields.reduce((a, b) => (b.worst > a.worst ? b : a));
      const entry = { loss: gc.loss, case: c.name, objective: gc.objective, ok: fields.every((f) => f.worst <= 1), worst, fields };
      if (gc.loss === 'giou') {
        // rows where a pred and a target coordinate are equal: torch's max/min split the gradient 0.5/0.5 there,
        // tfjs' maximum/minimum send all of it to the first operand
        const p = tensor(I.pred), t = tensor(I.target);
        const tieRows = [];
        for (let k = 0; k < p.length / 4; k++) if ([0, 1, 2, 3].some((j) => p[4 * k + j] === t[4 * k + j])) tieRows.push(k);
        const skip = (i) => tieRows.includes(i >> 2);
        const rest = Object.entries(c.grads[gc.objective]).map(([name, g]) => ({
          field: `grads.${gc.objective}.${name}`, ...goldenField(r[name], tensor(g), c.tolerance_hint.grads[gc.objective][name], skip),
        }));
        entry.tieRows = tieRows;
        entry.withoutTieRows = { ok: fields[0].worst <= 1 && rest.every((f) => f.worst <= 1), worst: rest.reduce((a, b) => (b.worst > a.worst ? b : a)) };
      }
      out[backend].push(entry);
    }
  }
  process.stdout.write(JSON.stringify(out));
}

// ---------------------------------------------------------------------------------------------
// timing helpers

/** The runtime the suite runs in: Deno and Bun both report a Node version through their node: compatibility layer. */
function runtimeName() {
  if (typeof globalThis.Deno?.version?.deno === 'string') return `deno ${globalThis.Deno.version.deno} (V8 ${globalThis.Deno.version.v8})`;
  if (typeof process.versions.bun === 'string') return `bun ${process.versions.bun} (JavaScriptCore)`;
  return `node ${process.version} (V8 ${process.versions.v8})`;
}

function probe() {
  // fixed pure-JS integer work, ~50–100 ms on an idle core; slower at the end = the machine got busier
  const t0 = performance.now();
  let x = 0x9e3779b9 | 0, acc = 0;
  for (let i = 0; i < 40_000_000; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    acc = (acc + (x & 0xffff)) | 0;
  }
  const ms = performance.now() - t0;
  if (acc === 42) console.error('');
  return ms;
}

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const med = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { n: s.length, min: s[0], median: med, max: s[s.length - 1] };
}

const fmtMs = (ms) => (ms === undefined || !Number.isFinite(ms) ? '-' : ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms >= 0.1 ? ms.toFixed(3) : ms.toFixed(4));
const fmtX = (x) => (x === undefined || !Number.isFinite(x) ? '-' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const MB = (b) => (b / 1e6).toFixed(b >= 1e7 ? 1 : 2);

function progress(text) {
  process.stderr.write(`@@p ${text}\n`);
}

async function time(fn) {
  const t0 = performance.now();
  const r = fn();
  if (r && typeof r.then === 'function') await r;
  return performance.now() - t0;
}

/** A copy of `a` in a Gfl.allocate() buffer of g (zero-copy contenders). */
function copyTo(g, a) {
  const v = g.allocate(a.length, a instanceof Int32Array ? 'int32' : 'float32');
  v.set(a);
  return v;
}

// ---------------------------------------------------------------------------------------------
// gfloss backends (single-thread ones and, where the API reports them, threads backends at 1 and 2 threads)

async function gflossContenders(api, withZeroCopy = false) {
  const caps = api.getCapabilities();
  const names = api.availableBackends(caps, { async: true });
  const list = [];
  const notes = [];
  for (const b of names) {
    if (!/thread/.test(b)) {
      const t0 = performance.now();
      const g = api.createGflSync({ backend: b });
      list.push({ name: b, g, async: false, createMs: performance.now() - t0 });
      continue;
    }
    for (const threads of [1, 2]) {
      try {
        const t0 = performance.now();
        const g = await api.createGfl({ backend: b, threads });
        list.push({ name: `${b}×${threads}`, g, async: true, threads, createMs: performance.now() - t0 });
        if (withZeroCopy && typeof g.allocate === 'function') {
          list.push({ name: `zero-copy×${threads}`, g: await api.createGfl({ backend: b, threads }), async: true, threads, zeroCopy: true });
        }
      } catch (e) {
        notes.push(`${b} at ${threads} thread(s): ${e.message}`);
      }
    }
  }
  return { list, notes, caps };
}

const wasmBytesOf = (g) => {
  try {
    return g.rt?.memory?.buffer?.byteLength ?? g.memoryBytes ?? undefined;
  } catch { return undefined; }
};

// ---------------------------------------------------------------------------------------------
// child: one (loss, batch) workload, every contender, both distributions

async function workloadChild(cfg) {
  console.log = (...a) => console.error(...a); // stdout carries the result only
  const { loss, batch, rounds, tfjs: useTf, tfjsCpu } = cfg;
  const L = LOSSES[loss];
  progress('data');
  const skipped = [];
  const sets = DIST_KEYS.map((k) => (loss === 'step' ? makeStep(batch, k) : makeBatch(batch, k, [loss])));
  const rssData = process.memoryUsage().rss;
  const api = await import(DIST);
  const { list: gl, notes } = await gflossContenders(api, !!L.inPlace);

  const contenders = L.js ? [{ name: 'js', kind: 'js', make: (d) => L.js(d) }] : [];
  if (!L.js) skipped.push(`js: no plain-JS reference for the ${TITLES[loss]}; the gate compares every backend with the first one`);
  for (const c of gl) {
    const outs = sets.map((d) => (c.zeroCopy ? L.outsInPlace(c.g, d) : L.outs(d)));
    const data = sets.map((d) => (c.zeroCopy ? L.inPlace(c.g, d) : d));
    contenders.push({ name: c.name, kind: 'gfloss', g: c.g, threads: c.threads ?? 1, make: (d, si) => L.gfloss(c.g, data[si], outs[si], c.async) });
  }
  let tf;
  if (useTf) {
    tf = await loadTf();
    if (!tf) skipped.push(`tfjs: not installed (${tfModule_error})`);
  }
  if (tf && !L.tfjs) skipped.push(`tfjs: the ${TITLES[loss]} is not composed from tfjs ops in this bench`);
  if (tf && L.tfjs) {
    for (const backend of ['wasm', 'cpu']) {
      if (backend === 'cpu' && !tfjsCpu) continue;
      if (backend === 'cpu' && batch === 'b8' && loss === 'qfl' && !cfg.tfjsCpuB8) {
        skipped.push('tfjs-cpu: not timed for QFL at b8 (about 6 s a call; --tfjs-cpu-b8 times it)');
        continue;
      }
      contenders.push({
        name: `tfjs-${backend}`, kind: 'tfjs', backend,
        before: () => tf.setBackend(backend),
        make: (d) => { const h = L.tfjs(tf, d); return Object.assign(h.call, { dispose: h.dispose }); },
      });
    }
  }

  // instantiate per distribution (tfjs tensors on their own backend)
  for (const c of contenders) {
    if (c.before) await c.before();
    c.fns = sets.map((d, si) => c.make(d, si));
  }

  // correctness: js vs every gfloss backend (gate); tfjs vs js (reported; a mismatch drops tfjs from timing)
  progress('correctness');
  const checks = {};
  const first = {};
  let failed = false;
  for (let si = 0; si < sets.length; si++) {
    const dk = sets[si].dist;
    checks[dk] = {};
    let ref;
    for (const c of contenders) {
      if (c.before) await c.before();
      const t0 = performance.now();
      let r = c.fns[si]();
      if (r && typeof r.then === 'function') r = await r;
      const ms = performance.now() - t0;
      if (si === 0) first[c.name] = ms;
      else c.gateMs = ms; // the second distribution's gate call is already warm-ish
      if (c.kind === 'js' || !ref) { ref = snapshot(r, L.grads); c.isRef = true; continue; }
      const tol = c.kind === 'gfloss' ? [1e-5, 1e-4] : [2e-3, 1e-3];
      const cmp = compare(ref, r, L.grads, ...tol);
      cmp.tolerance = { lossRel: tol[0], gradRelToMax: tol[1] };
      checks[dk][c.name] = cmp;
      if (!cmp.ok) {
        if (c.kind === 'gfloss') failed = true;
        else c.dropped = `disagrees with the JS reference on ${dk}`;
      }
    }
  }
  const timed = contenders.filter((c) => !c.dropped && !(failed && c.kind !== 'js'));

  // calibrate: calls per sample so that a sample lasts ≥ 1 ms (from a second warm call)
  progress('warm-up');
  for (const c of timed) {
    if (c.before) await c.before();
    let ms = c.gateMs ?? Infinity;
    // slow contenders (tfjs at b8, ~0.2–6 s a call) are warm after their gate calls; the others get two more each
    if (!(ms > 400)) for (let si = 0; si < sets.length; si++) for (let w = 0; w < 2; w++) ms = Math.min(ms, await time(c.fns[si]));
    c.warmMs = ms;
    c.inner = Math.min(2000, Math.max(1, Math.ceil(1 / Math.max(ms, 1e-4))));
    // fewer calls for the slow ones: about 8 s per contender and distribution at most, never under 2 rounds
    c.reps = ms > 400 ? 1 : ms > 40 ? 2 : 4;
    c.rounds = ms > 400 ? Math.max(2, Math.min(rounds, Math.floor(8000 / ms))) : rounds;
    c.samples = sets.map(() => []);
  }

  for (let round = 0; round < rounds; round++) {
    progress(`round ${round + 1}/${rounds}`);
    for (let si = 0; si < sets.length; si++) {
      for (let q = 0; q < timed.length; q++) {
        const c = timed[(q + round) % timed.length];
        if (round >= c.rounds) continue;
        if (c.before) await c.before();
        const fn = c.fns[si];
        for (let r = 0; r < c.reps; r++) {
          let ms;
          if (c.inner === 1) ms = await time(fn);
          else {
            const t0 = performance.now();
            for (let i = 0; i < c.inner; i++) {
              const p = fn();
              if (p && typeof p.then === 'function') await p;
            }
            ms = (performance.now() - t0) / c.inner;
          }
          c.samples[si].push(ms);
        }
      }
    }
  }

  // memory
  const mem = { rssAfterDataBytes: rssData, peakRssBytes: process.resourceUsage().maxRSS * 1024, wasmBytes: {} };
  for (const c of contenders) {
    if (c.kind === 'gfloss') mem.wasmBytes[c.name] = wasmBytesOf(c.g);
    if (c.kind === 'tfjs' && c.backend === 'wasm') {
      try { mem.wasmBytes[c.name] = tf.findBackend('wasm').wasm.HEAPU8.byteLength; } catch { /* unknown */ }
    }
  }
  const results = {};
  for (let si = 0; si < sets.length; si++) {
    const dk = sets[si].dist;
    results[dk] = {};
    for (const c of timed) results[dk][c.name] = { ...stats(c.samples[si]), inner: c.inner, threads: c.threads ?? 1 };
  }
  for (const c of contenders) if (c.kind === 'gfloss') await c.g.dispose?.();
  for (const c of contenders) for (const f of c.fns ?? []) f.dispose?.();
  const d0 = sets[0];
  process.stdout.write(JSON.stringify({
    loss, batch, shape: L.shape(d0), elements: L.elements(d0), elementUnit: L.elementUnit, minBytes: L.minBytes(d0),
    positives: d0.K, contenders: contenders.map((c) => ({ name: c.name, kind: c.kind, threads: c.threads ?? 1, dropped: c.dropped })),
    firstCallMs: first, checks, failed, results, memory: mem, notes, skipped,
  }));
}

// ---------------------------------------------------------------------------------------------
// cold child: a fresh process per contender: import + create + first and second call of QFL, DFL, GIoU at b8

async function coldChild(name) {
  console.log = (...a) => console.error(...a);
  const d = makeBatch('b8', 'detector');
  const r = { steps: {} };
  let call, dispose;
  let hasHead = false, hasStep = false, gStep, stepAsync;
  let t = performance.now();
  if (name === 'js') {
    hasHead = true; // the JS reference exists whatever dist holds
    call = (loss) => LOSSES[loss].js(d);
  } else if (name.startsWith('tfjs-')) {
    const tf = await loadTf();
    r.import = performance.now() - t;
    t = performance.now();
    await tf.setBackend(name.slice(5));
    await tf.ready();
    r.create = performance.now() - t;
    call = (loss) => LOSSES[loss].tfjs(tf, d).call;
  } else {
    const api = await import(DIST);
    r.import = performance.now() - t;
    hasHead = typeof api.Gfl?.prototype?.gflHeadLossSync === 'function';
    hasStep = typeof api.Gfl?.prototype?.stepSync === 'function';
    const m = /^(.*)×(\d+)$/.exec(name);
    t = performance.now();
    const g = m ? await api.createGfl({ backend: m[1], threads: Number(m[2]) }) : api.createGflSync({ backend: name });
    r.create = performance.now() - t;
    call = (loss) => LOSSES[loss].gfloss(g, d, LOSSES[loss].outs(d), !!m);
    gStep = g;
    stepAsync = !!m;
    dispose = () => g.dispose?.();
  }
  for (const loss of LOSS_KEYS) {
    if (name === 'tfjs-cpu' && loss === 'qfl') continue; // ~6 s
    if (loss === 'head' && (!hasHead || name.startsWith('tfjs-'))) continue;
    if (loss === 'step') {
      if (!hasStep) continue;
      const ds = makeStep('b8', 'detector');
      const fn = LOSSES.step.gfloss(gStep, ds, LOSSES.step.outs(ds), stepAsync);
      const first = await time(fn);
      r.steps.step = { first, second: await time(fn) };
      continue;
    }
    const fn = call(loss);
    const first = await time(fn);
    const second = first > 2000 ? undefined : await time(fn);
    r.steps[loss] = { first, second };
  }
  await dispose?.();
  process.stdout.write(JSON.stringify(r));
}

// ---------------------------------------------------------------------------------------------
// the physical limit: a wasm SIMD streaming copy, hand-assembled (no dependencies)
//   (func (export "copy") (param src i32) (param dst i32) (param n i32)   ;; n: bytes, a multiple of 64
//     loop: if i >= n break; v128.store dst+i+{0,16,32,48} (v128.load src+i+{0,16,32,48}); i += 64)

function copyModuleBytes() {
  const body = [0x01, 0x01, 0x7f, 0x02, 0x40, 0x03, 0x40, 0x20, 0x03, 0x20, 0x02, 0x4f, 0x0d, 0x01];
  for (const off of [0x00, 0x10, 0x20, 0x30]) {
    body.push(0x20, 0x01, 0x20, 0x03, 0x6a, 0x20, 0x00, 0x20, 0x03, 0x6a, 0xfd, 0x00, 0x04, off, 0xfd, 0x0b, 0x04, off);
  }
  body.push(0x20, 0x03, 0x41, 0xc0, 0x00, 0x6a, 0x21, 0x03, 0x0c, 0x00, 0x0b, 0x0b, 0x0b);
  const sec = (id, content) => [id, ...uleb(content.length), ...content];
  const name = (s) => [s.length, ...Buffer.from(s)];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...sec(1, [0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00]),
    ...sec(3, [0x01, 0x00]),
    ...sec(5, [0x01, 0x00, 0x01]),
    ...sec(7, [0x02, ...name('copy'), 0x00, 0x00, ...name('mem'), 0x02, 0x00]),
    ...sec(10, [0x01, ...uleb(body.length), ...body]),
  ]);
}
function uleb(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

/** A copier on its own memory: copy(bytes) moves `bytes` read + `bytes` written. */
function makeCopier(bytes) {
  const inst = new WebAssembly.Instance(new WebAssembly.Module(copyModuleBytes()));
  const { copy, mem } = inst.exports;
  const half = Math.ceil(bytes / 64) * 64;
  const need = 2 * half + 64;
  if (need > mem.buffer.byteLength) mem.grow(Math.ceil((need - mem.buffer.byteLength) / 65536));
  new Uint8Array(mem.buffer, 0, half).fill(1);
  new Uint8Array(mem.buffer, half, half).fill(2);
  return () => copy(0, half, half);
}

/** Min time (ms) of a 1-thread copy moving `total` bytes (half read, half written), over enough reps. */
function copyTime1(total) {
  const run = makeCopier(total / 2);
  const inner = Math.max(1, Math.floor(4e6 / total));
  let best = Infinity;
  for (let r = 0; r < 15; r++) {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) run();
    best = Math.min(best, (performance.now() - t0) / inner);
  }
  return best;
}

const WORKER_SRC = `
const { parentPort, workerData } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
const mod = new WebAssembly.Module(workerData.wasm);
const { copy, mem } = new WebAssembly.Instance(mod).exports;
const half = workerData.half, inner = workerData.inner;
const need = 2 * half + 64;
if (need > mem.buffer.byteLength) mem.grow(Math.ceil((need - mem.buffer.byteLength) / 65536));
new Uint8Array(mem.buffer, 0, half).fill(1);
copy(0, half, half);
const flag = new Int32Array(workerData.sab, 0, 2);
const times = new Float64Array(workerData.sab, 8);
const me = workerData.index;
parentPort.postMessage('ready');
for (let r = 0; r < workerData.reps; r++) {
  Atomics.wait(flag, 0, r);              // until the main thread starts round r + 1
  const t0 = performance.timeOrigin + performance.now();
  for (let i = 0; i < inner; i++) copy(0, half, half);
  const t1 = performance.timeOrigin + performance.now();
  times[2 * (r * workerData.threads + me)] = t0;
  times[2 * (r * workerData.threads + me) + 1] = t1;
  Atomics.add(flag, 1, 1);
  Atomics.notify(flag, 1);
}
`;

/** Min wall time (ms) of `threads` workers each copying total/threads bytes at once (started together). */
async function copyTimeN(total, threads) {
  const reps = 15;
  const half = Math.ceil(total / 2 / threads / 64) * 64;
  const inner = Math.max(1, Math.floor(4e6 / total));
  const sab = new SharedArrayBuffer(8 + 16 * reps * threads);
  const flag = new Int32Array(sab, 0, 2);
  const times = new Float64Array(sab, 8);
  const wasm = copyModuleBytes();
  const workers = [];
  const ready = [];
  for (let i = 0; i < threads; i++) {
    const w = new Worker(WORKER_SRC, { eval: true, workerData: { wasm, half, inner, sab, index: i, reps, threads } });
    ready.push(new Promise((res, rej) => { w.once('message', res); w.once('error', rej); }));
    workers.push(w);
  }
  await Promise.all(ready);
  await new Promise((r) => setTimeout(r, 20));
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    Atomics.store(flag, 0, r + 1);
    Atomics.notify(flag, 0);
    while (Atomics.load(flag, 1) < (r + 1) * threads) Atomics.wait(flag, 1, Atomics.load(flag, 1), 1000);
    let s = Infinity, e = -Infinity;
    for (let i = 0; i < threads; i++) {
      s = Math.min(s, times[2 * (r * threads + i)]);
      e = Math.max(e, times[2 * (r * threads + i) + 1]);
    }
    best = Math.min(best, (e - s) / inner);
  }
  await Promise.all(workers.map((w) => w.terminate()));
  return best;
}

// ---------------------------------------------------------------------------------------------
// parent

function runChild(args, onProgress) {
  return new Promise((resolve, reject) => {
    const ch = spawn(process.execPath, [SELF, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', errBuf = '', errText = '';
    ch.stdout.on('data', (b) => { out += b; });
    ch.stderr.on('data', (b) => {
      errBuf += b;
      let nl;
      while ((nl = errBuf.indexOf('\n')) >= 0) {
        const line = errBuf.slice(0, nl);
        errBuf = errBuf.slice(nl + 1);
        if (line.startsWith('@@p ')) onProgress?.(line.slice(4));
        else if (line.trim() && !/tfjs-node|^=+$|Hi, looks like you are running TensorFlow/.test(line)) errText += line + '\n';
      }
    });
    ch.on('error', reject);
    ch.on('close', (code) => {
      if (code !== 0) return reject(new Error(`child ${args.join(' ')} exited ${code}\n${errText}`));
      try {
        resolve({ ...JSON.parse(out), stderr: errText || undefined });
      } catch (e) {
        reject(new Error(`child ${args.join(' ')}: bad output (${e.message})\n${errText}`));
      }
    });
  });
}

const TTY = process.stderr.isTTY;
let lastStatus = '';
function status(text) {
  if (TTY) {
    const line = text.length > 100 ? text.slice(0, 100) : text;
    process.stderr.write(`\r\x1b[2K${line}`);
  } else if (text !== lastStatus) process.stderr.write(`  … ${text}\n`);
  lastStatus = text;
}
function statusDone() {
  if (TTY) process.stderr.write('\r\x1b[2K');
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.child) return workloadChild(args.child);
  if (args.cold1) return coldChild(args.cold1);
  if (args.golden) return goldenChild();
  if (args.from) { // redraw the chart from a saved --json document
    if (!args.svg) usage('--from needs --svg PATH');
    writeFileSync(args.svg, svgChart(JSON.parse(readFileSync(args.from, 'utf8'))));
    console.log(`wrote ${args.svg}`);
    return;
  }

  if (!existsSync(join(DIST_DIR, 'index.js'))) {
    console.error(`bench/suite.mjs: ${join(DIST_DIR, 'index.js')} is missing; run \`npm run build\` first`);
    process.exit(2);
  }
  const tStart = performance.now();
  const api = await import(DIST);
  const caps = api.getCapabilities();
  const backends = api.availableBackends(caps, { async: true });
  const hasHead = typeof api.Gfl?.prototype?.gflHeadLossSync === 'function' || typeof api.Gfl?.prototype?.gflHeadLoss === 'function'
    || typeof api.gflHeadLoss === 'function';
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const env = {
    date: new Date().toISOString(),
    gfloss: pkg.version,
    runtime: runtimeName(),
    node: process.version,
    v8: process.versions.v8,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    platform: `${os.platform()} ${os.arch()} ${os.release()}`,
    loadavgStart: os.loadavg(),
    capabilities: caps,
    backends,
  };
  const tf = args.tfjs ? await loadTf() : undefined;
  if (tf) env.tfjs = await tfVersions(tf);

  console.log('gfloss benchmark suite: forward + gradient, C = 80, 17 bins, 5 % positives; b1: N = 8,400, b8: N = 67,200');
  console.log(`${env.date} | gfloss ${env.gfloss} | ${env.runtime} | ${env.cpu} | ${env.cores} cores, ${env.memoryGiB} GiB | ${env.platform}`);
  console.log(`gfloss backends here: ${backends.join(', ')}${caps.threads ? '' : ` (threads: ${caps.threadsReason ?? 'no'})`}` +
    (backends.some((b) => /thread/.test(b)) ? '' : '; no threads backend in this build yet'));
  if (tf) console.log(`tfjs-core ${env.tfjs.version}; wasm backend SIMD ${env.tfjs.wasmSimd}, threads ${env.tfjs.wasmThreads}`);
  else if (args.tfjs) console.log(`tfjs: not available (${tfModule_error}); install the dev dependencies to time it`);
  console.log(`head loss: ${hasHead ? 'gflHeadLoss is present in dist: timed (gfloss backends and a JS reference; not composed in tfjs)'
    : 'gflHeadLoss is absent from dist (not built yet): not timed'}`);
  console.log(`training step: ${typeof api.Gfl?.prototype?.stepSync === 'function' ? 'Gfl.step (anchors + ATSS targets + head loss) is present: timed (gfloss backends only)'
    : 'Gfl.step is absent from dist: not timed'}`);
  console.log(`load average ${env.loadavgStart.map((l) => l.toFixed(2)).join(' ')}`);

  const probeStart = probe();
  console.log(`CPU probe (fixed JS loop) at start: ${fmtMs(probeStart)} ms`);

  // tfjs against the goldens
  let golden;
  if (tf) {
    status('tfjs vs goldens');
    golden = await runChild(['--golden-child']);
    statusDone();
    console.log('\ntfjs peer vs the public goldens (upstream PyTorch; |Δ| ≤ atol + rtol·|golden| from each case\'s tolerance_hint):');
    for (const [b, cases] of Object.entries(golden).filter(([k]) => k !== 'stderr')) {
      for (const c of cases) {
        console.log(`  tfjs-${b.padEnd(5)} ${c.case.padEnd(28)} ${c.objective.padEnd(18)} ${c.ok ? 'ok  ' : 'OFF '} worst ${c.worst.field} ` +
          `${c.worst.worst.toFixed(2)}× tolerance${c.worst.at >= 0 ? ` at [${c.worst.at}]` : ''}` +
          (c.withoutTieRows ? `; without the rows with coordinate ties (${c.tieRows.join(', ')}): ${c.withoutTieRows.ok ? 'ok' : 'OFF'}, ` +
            `worst ${c.withoutTieRows.worst.worst.toFixed(2)}× (tfjs' maximum/minimum give a tie's whole gradient to the first operand; torch splits it)` : ''));
      }
    }
  }

  // workloads (sizes for the bandwidth bound come from the data generator)
  const plan = [];
  const present = (l) => !NEEDS[l] || typeof api.Gfl?.prototype?.[NEEDS[l]] === 'function';
  const only = args.only ?? LOSS_KEYS.filter(present);
  for (const l of only) if (!present(l)) console.log(`--only ${l}: ${NEEDS[l]} is absent from dist; skipped`);
  for (const loss of only) for (const batch of args.batches) if (present(loss)) plan.push({ loss, batch });
  const sizes = {};
  for (const { loss, batch } of plan) {
    const N = BATCHES[batch], K = Math.round(POS_FRACTION * N);
    sizes[`${loss}/${batch}`] = LOSSES[loss].minBytes({ N: loss === 'step' ? (N / 8400) * 8525 : N, K, M: 4 * K });
  }

  // the physical limit
  status('bandwidth');
  const bw = { dram: {}, perWorkload: {} };
  // 128 MiB read + 128 MiB written: each array four times the last-level cache (32 MiB here), STREAM's rule
  const big = 256 * 2 ** 20;
  bw.dram.bytes = big;
  bw.dram.t1 = copyTime1(big);
  let threadsOk = true;
  try {
    // never slower than one thread (two workers on one busy core can be): the bound is what the machine can do
    bw.dram.t2 = Math.min(bw.dram.t1, await copyTimeN(big, 2));
  } catch (e) {
    threadsOk = false;
    bw.workerError = e.message;
  }
  for (const [k, bytes] of Object.entries(sizes)) {
    status(`bandwidth at ${k} (${MB(bytes)} MB)`);
    const t1 = copyTime1(bytes);
    const t2 = threadsOk ? Math.min(t1, await copyTimeN(bytes, 2)) : undefined;
    bw.perWorkload[k] = { bytes, t1, t2 };
  }
  statusDone();
  console.log(`\nstreaming bandwidth (wasm SIMD copy, 128 MiB read + 128 MiB written): 1 thread ${(big / bw.dram.t1 / 1e6).toFixed(1)} GB/s` +
    (bw.dram.t2 ? `, 2 threads ${(big / bw.dram.t2 / 1e6).toFixed(1)} GB/s` : ` (2 threads: ${bw.workerError})`));

  // cold first step, each contender in a fresh process
  let cold;
  if (args.cold) {
    cold = {};
    const names = ['js', ...backends.filter((b) => !/thread/.test(b))];
    for (const b of backends.filter((x) => /thread/.test(x))) names.push(`${b}×1`, `${b}×2`);
    if (tf) names.push('tfjs-wasm', ...(args.tfjsCpu ? ['tfjs-cpu'] : []));
    for (const n of names) {
      status(`cold first step: ${n}`);
      try {
        cold[n] = await runChild(['--cold-child', n]);
      } catch (e) {
        cold[n] = { error: e.message.split('\n')[0] };
      }
    }
    statusDone();
  }

  // the workloads
  const workloads = [];
  let failed = false;
  for (let i = 0; i < plan.length; i++) {
    const { loss, batch } = plan[i];
    const label = `[${i + 1}/${plan.length}] ${TITLES[loss]} ${batch}`;
    status(label);
    const r = await runChild(['--child', JSON.stringify({
      loss, batch, rounds: args.rounds, tfjs: !!tf, tfjsCpu: args.tfjsCpu, tfjsCpuB8: args.tfjsCpuB8,
    })], (p) => status(`${label}: ${p}  (${((performance.now() - tStart) / 1000).toFixed(0)} s)`));
    r.bound = streamBound(bw, bw.perWorkload[`${loss}/${batch}`].bytes);
    r.copy = bw.perWorkload[`${loss}/${batch}`];
    workloads.push(r);
    if (r.failed) failed = true;
  }
  statusDone();
  const probeEnd = probe();

  report({ env, args, probeStart, probeEnd, bw, cold, workloads, golden, hasHead });
  const totalS = (performance.now() - tStart) / 1000;
  console.log(`\nwall time ${totalS.toFixed(0)} s`);

  const doc = {
    env: { ...env, loadavgEnd: os.loadavg() },
    config: { C, bins: BINS, beta: BETA, posFraction: POS_FRACTION, seed: SEED, batches: BATCHES, rounds: args.rounds, quick: args.quick },
    probe: { startMs: probeStart, endMs: probeEnd },
    bandwidth: bw, golden, cold, headLoss: hasHead ? 'present' : 'absent', workloads, wallSeconds: totalS,
  };
  if (args.json) {
    mkdirSync(dirname(args.json), { recursive: true });
    writeFileSync(args.json, JSON.stringify(doc, null, 1) + '\n');
    console.log(`wrote ${args.json}`);
  }
  if (args.svg) {
    mkdirSync(dirname(args.svg), { recursive: true });
    writeFileSync(args.svg, svgChart(doc));
    console.log(`wrote ${args.svg}`);
  }
  if (failed) {
    console.error('\nFAIL: gfloss and the JS reference disagree (see the correctness lines); those workloads were not timed.');
    process.exitCode = 1;
  }
}

/** A workload's bound: `bytes` at the streaming bandwidth measured past the caches (1 thread, and 2 where measured). */
function streamBound(bw, bytes) {
  return { bytes, t1: (bytes * bw.dram.t1) / bw.dram.bytes, t2: bw.dram.t2 ? (bytes * bw.dram.t2) / bw.dram.bytes : undefined };
}

function report({ env, probeStart, probeEnd, bw, cold, workloads }) {
  for (const w of workloads) {
    const b = w.bound, cp = w.copy;
    console.log(`\n${TITLES[w.loss]} ${w.batch}: ${w.shape}${w.positives ? `, ${w.positives.toLocaleString('en-US')} positives` : ''}; ` +
      `moves ≥ ${MB(w.minBytes)} MB; bound at the streaming bandwidth ${fmtMs(b.t1)} ms (1 thread)` + (b.t2 ? `, ${fmtMs(b.t2)} ms (2 threads)` : '') +
      `; a copy of those bytes ${fmtMs(cp.t1)} ms` + (cp.t2 ? `, ${fmtMs(cp.t2)} ms` : ''));
    for (const [dk, cs] of Object.entries(w.checks)) {
      for (const [name, c] of Object.entries(cs)) {
        const gs = Object.entries(c.grads).map(([k, g]) => `${k} ${g.rel.toExponential(1)}`).join(', ');
        if (!c.ok || name.startsWith('tfjs')) {
          console.log(`  check ${dk.padEnd(8)} ${name.padEnd(20)} ${c.ok ? 'ok ' : 'OFF'} vs js: loss rel ${c.lossRel.toExponential(1)}; max|Δgrad|/max|grad| ${gs}`);
        }
      }
    }
    const gateOk = Object.values(w.checks).every((cs) => Object.entries(cs).every(([n, c]) => c.ok || n.startsWith('tfjs')));
    console.log(`  gate (js vs every gfloss backend: loss rel ≤ 1e-5, max|Δgrad| ≤ 1e-4·max|grad|): ${gateOk ? 'pass' : 'FAIL'}`);
    for (const s of w.skipped) console.log(`  ${s}`);
    for (const n of w.notes) console.log(`  note: ${n}`);
    console.log('  contender            distribution   median ms    min ms    max ms  ns/elem  ×bound  ×copy  vs js  vs tfjs-wasm');
    for (const dk of DIST_KEYS) {
      const rs = w.results[dk];
      if (!rs) continue;
      const js = rs.js?.median, tw = rs['tfjs-wasm']?.median;
      for (const [name, s] of Object.entries(rs)) {
        const two = s.threads >= 2;
        s.nsPerElement = (s.median * 1e6) / w.elements;
        s.xBound = s.median / (two && b.t2 ? b.t2 : b.t1);
        s.xCopy = s.median / (two && cp.t2 ? cp.t2 : cp.t1);
        s.speedupVsJs = js / s.median;
        s.speedupVsTfjsWasm = tw / s.median;
        console.log(`  ${name.padEnd(20)} ${dk.padEnd(12)} ${fmtMs(s.median).padStart(11)} ${fmtMs(s.min).padStart(9)} ${fmtMs(s.max).padStart(9)}` +
          ` ${s.nsPerElement.toFixed(2).padStart(8)} ${fmtX(s.xBound).padStart(7)} ${fmtX(s.xCopy).padStart(6)} ${fmtX(s.speedupVsJs).padStart(6)}` +
          ` ${tw ? fmtX(s.speedupVsTfjsWasm).padStart(12) : '-'.padStart(12)}`);
      }
    }
    const m = w.memory;
    const wasm = Object.entries(m.wasmBytes).filter(([, v]) => v).map(([k, v]) => `${k} ${MB(v)}`).join(', ');
    console.log(`  memory: peak RSS ${MB(m.peakRssBytes)} MB (data alone ${MB(m.rssAfterDataBytes)} MB); wasm memory MB: ${wasm || '-'}; inputs + outputs ${MB(w.minBytes)} MB`);
  }
  if (cold) {
    console.log('\ncold first step at b8 (fresh process per contender; detector-like data), ms');
    console.log('  contender            import   create     QFL 1st/2nd     DFL 1st/2nd    GIoU 1st/2nd    head 1st/2nd    step 1st/2nd');
    for (const [n, r] of Object.entries(cold)) {
      if (r.error) { console.log(`  ${n.padEnd(20)} failed: ${r.error}`); continue; }
      const st = (k) => (r.steps[k] ? `${fmtMs(r.steps[k].first)}/${fmtMs(r.steps[k].second)}` : '-');
      console.log(`  ${n.padEnd(20)} ${fmtMs(r.import).padStart(6)} ${fmtMs(r.create).padStart(8)} ${st('qfl').padStart(15)} ${st('dfl').padStart(15)} ${st('giou').padStart(15)} ${st('head').padStart(15)} ${st('step').padStart(15)}`);
    }
  }
  const ratio = Math.max(probeStart, probeEnd) / Math.min(probeStart, probeEnd);
  console.log(`\nCPU probe (fixed JS loop): start ${fmtMs(probeStart)} ms, end ${fmtMs(probeEnd)} ms` +
    (ratio > 1.2 ? `  <-- changed ${ratio.toFixed(1)}×: the load varied during the run; trust the minima more than the medians` : ''));
  console.log(`load average: start ${env.loadavgStart.map((l) => l.toFixed(2)).join(' ')}, end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${env.cores} cores)`);
  void bw;
}

// ---------------------------------------------------------------------------------------------
// SVG chart: ns per element (log scale), detector-like medians as bars, uniform as a dot, the bound and the copy as lines

const COLORS = {
  js: '#888888', 'wasm-scalar': '#9ecae1', 'wasm-simd': '#2171b5', 'tfjs-wasm': '#fd8d3c', 'tfjs-cpu': '#a63603',
};
const THREAD_COLORS = ['#31a354', '#006d2c', '#74c476'];

function svgChart(doc) {
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const groups = doc.workloads.map((w) => {
    const names = Object.keys(w.results.detector ?? {});
    return { w, names, label: `${TITLES[w.loss]} ${w.batch}`, sub: w.shape };
  });
  const allNames = [...new Set(groups.flatMap((g) => g.names))];
  let tc = 0;
  const color = (n) => COLORS[n] ?? (COLORS[n] = THREAD_COLORS[tc++ % THREAD_COLORS.length]);
  const vals = [];
  for (const g of groups) {
    // a run saved before the streaming bound existed kept the copy time in `bound`
    if (!g.w.copy) { g.w.copy = g.w.bound; g.w.bound = streamBound(doc.bandwidth, g.w.copy.bytes); }
    for (const n of g.names) for (const dk of DIST_KEYS) { const s = g.w.results[dk]?.[n]; if (s) vals.push(s.median * 1e6 / g.w.elements); }
    for (const t of [g.w.bound.t1, g.w.bound.t2, g.w.copy.t1, g.w.copy.t2]) if (t) vals.push(t * 1e6 / g.w.elements);
  }
  const lo = Math.floor(Math.log10(Math.min(...vals))), hi = Math.ceil(Math.log10(Math.max(...vals)));
  const X0 = 170, W = 560, BAR = 11, GAP = 18, TOP = 104;
  const x = (v) => X0 + ((Math.log10(v) - lo) / (hi - lo)) * W;
  let y = TOP;
  const parts = [];
  for (const g of groups) {
    const h = g.names.length * BAR;
    parts.push(`<text x="8" y="${y + h / 2 - 2}" font-weight="bold">${esc(g.label)}</text>`);
    parts.push(`<text x="8" y="${y + h / 2 + 11}" font-size="10" fill="#555">${esc(g.sub)}</text>`);
    g.names.forEach((n, i) => {
      const s = g.w.results.detector[n];
      const v = s.median * 1e6 / g.w.elements;
      const yy = y + i * BAR;
      parts.push(`<rect x="${X0}" y="${yy + 1}" width="${Math.max(1, x(v) - X0).toFixed(1)}" height="${BAR - 2}" fill="${color(n)}"><title>${esc(n)}: ${v.toFixed(3)} ns/${esc(g.w.elementUnit)} (median ${fmtMs(s.median)} ms, detector-like)</title></rect>`);
      const u = g.w.results.uniform?.[n];
      if (u) {
        const uv = u.median * 1e6 / g.w.elements;
        parts.push(`<circle cx="${x(uv).toFixed(1)}" cy="${yy + BAR / 2}" r="2.6" fill="#fff" stroke="#000" stroke-width="1"><title>${esc(n)} uniform: ${uv.toFixed(3)} ns/${esc(g.w.elementUnit)}</title></circle>`);
      }
      parts.push(`<text x="${X0 + W + 6}" y="${yy + BAR - 2}" font-size="10">${esc(n)} ${v < 1 ? v.toFixed(3) : v.toFixed(2)}</text>`);
    });
    const mark = (t, stroke, width, dash, what) => {
      if (!t) return;
      const v = t * 1e6 / g.w.elements;
      parts.push(`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${y - 2}" y2="${y + h + 2}" stroke="${stroke}" stroke-width="${width}"${dash ? ' stroke-dasharray="3,2"' : ''}><title>${what}: ${v.toFixed(3)} ns/elem</title></line>`);
    };
    mark(g.w.bound.t1, '#000', 1.5, false, 'bound at the streaming bandwidth, 1 thread');
    mark(g.w.bound.t2, '#000', 1, true, 'bound at the streaming bandwidth, 2 threads');
    mark(g.w.copy.t1, '#aaa', 1.5, false, 'copy of the same bytes, 1 thread');
    mark(g.w.copy.t2, '#aaa', 1, true, 'copy of the same bytes, 2 threads');
    y += h + GAP;
  }
  const axis = [];
  for (let e = lo; e <= hi; e++) {
    const xx = x(10 ** e);
    axis.push(`<line x1="${xx}" x2="${xx}" y1="${TOP - 8}" y2="${y - GAP + 4}" stroke="#ddd"/>`);
    axis.push(`<text x="${xx}" y="${TOP - 12}" font-size="10" text-anchor="middle">${10 ** e >= 1 ? 10 ** e : (10 ** e).toFixed(-e)}</text>`);
  }
  const legend = allNames.map((n, i) => {
    const lx = 8 + (i % 5) * 175, ly = y + 6 + Math.floor(i / 5) * 16;
    return `<rect x="${lx}" y="${ly}" width="10" height="10" fill="${color(n)}"/><text x="${lx + 14}" y="${ly + 9}" font-size="11">${esc(n)}</text>`;
  });
  y += Math.floor((allNames.length - 1) / 5) * 16;
  const H = y + 60;
  const e = doc.env;
  const title = `gfloss forward + gradient: ns per element (log scale; lower is better)`;
  const sub = `${e.date.slice(0, 10)} · ${e.runtime ?? `node ${e.node}`} · ${e.cpu} · ${e.cores} cores · load average ${e.loadavgStart[0].toFixed(1)}→${e.loadavgEnd[0].toFixed(1)} · ` +
    `CPU probe ${fmtMs(doc.probe.startMs)}→${fmtMs(doc.probe.endMs)} ms (idle ≈ 70)`;
  const sub2 = 'bars: median, detector-like logits; ○ median, uniform logits; black | its bytes at the streaming bandwidth (128 MiB copy), 1 thread, ┆ 2 threads; grey: a copy of exactly its bytes';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${X0 + W + 170}" height="${H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="8" y="20" font-size="15" font-weight="bold">${esc(title)}</text>
<text x="8" y="38" font-size="10" fill="#444">${esc(sub)}</text>
<text x="8" y="52" font-size="10" fill="#444">${esc(sub2)}</text>
<text x="${X0 + W / 2}" y="${TOP - 30}" font-size="10" text-anchor="middle">ns per element (QFL: logit, DFL: bin logit, GIoU: box pair)</text>
${axis.join('\n')}
${parts.join('\n')}
${legend.join('\n')}
<text x="8" y="${y + 36}" font-size="10" fill="#444">${esc('Regenerate: npm run bench -- --svg docs/bench.svg. Element = one logit (QFL), one bin logit (DFL), one box pair (GIoU), one class or box logit (head).')}</text>
</svg>
`;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
