#!/usr/bin/env node
// Benchmark (not a test) of Quality Focal Loss forward + gradient, the GFL training hot path:
// N = 67,200 anchors (640×640 input, strides 8/16/32/64/128) × C = 80 classes, β = 2, 5 % positive rows,
// reduction 'mean' with avgFactor = number of positives, as mmdetection's GFLHead calls it.
//
// Contenders
//   js            a plain-JavaScript fused one-pass loop written here (Float64 math, Math.exp / Math.log1p), the
//                 same formulas as mmdetection v3.1 quality_focal_loss incl. the derivative of the non-detached
//                 scale factor. Its result is checked against every wasm contender before anything is timed.
//   api-scalar    createGflSync({ backend: 'wasm-scalar' }).qualityFocalLossSync(...) with preallocated `out`:
//   api-simd      the steady-state training call = validation + copy-in + kernel + copy-out.
//   kernel-simd   the same kernel binary (build/*.wasm) instantiated here on an imported memory, inputs copied in
//                 once, timing only the `qflLogits` call: separates kernel time from the API's overhead.
//   copy          Float32Array.set of pred into a wasm memory and of the gradient out of it (the API's two big
//                 copies, nothing else): the floor of the API's overhead.
//   zero-copy-1/2 the threads build on 1 / 2 threads with inputs and outputs in g.allocate() buffers: no copy in or
//                 out (the async call; what a training loop that keeps its tensors in gfloss memory pays).
//   api-threads-1 await createGfl({ backend: 'wasm-simd-threads', threads: 1 }).qualityFocalLoss(...): the threads
//   api-threads-2 build on shared memory, on the calling thread alone / with one worker (the calling thread takes
//                 blocks too). The bar: threads-2 ≥ 1.7× threads-1 on an idle machine.
//   parallel probe  two worker threads running a fixed pure-JS loop at once vs one alone, before and after the
//                 timed rounds: about 2.0× when two cores are free, about 1.0× when another job holds one. A
//                 threads speed-up is only meaningful next to it.
//
// Method: data from a seeded PRNG (mulberry32), two input distributions; a correctness gate; the cold first call of
// each API backend and of the JS loop, each measured in a fresh child process (import + create + first call); a
// warm-up; then R interleaved rounds (contender order rotated each round), each running every contender K times.
// Reported per contender: min / median / max ms, and the speed-up of each median over the JS median.
// A fixed pure-JS loop is timed at the start and at the end (CPU contention probe).
//
// Usage: node bench/qfl.mjs [--json PATH] [--rounds 7] [--reps 5] [--no-cold] [--no-kernel] [--kernel-scalar]
//   --no-kernel      skip kernel-simd and copy;  --kernel-scalar  also time kernel-scalar (adds ~10 s)
//   --threads-only   only the threads bar: api-threads-1 and api-threads-2, interleaved, with the parallel probe
//                    before and after (a few seconds: repeat it to catch a quiet moment on a shared machine)
// Default run: about 40 s on a 2-core machine.
// Exit status: 0 when the correctness gate passes (a missed speed target is reported, not fatal); 1 when the
// JS reference and a wasm result disagree; 2 on bad arguments.

import os from 'node:os';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { qflJs, mulberry32, gaussian, makeTargets } from './common.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = pathToFileURL(join(ROOT, 'dist', 'index.js')).href;

const N = 67200;
const C = 80;
const BETA = 2;
const POS_FRACTION = 0.05;
const FLOAT32_EPS = 1.1920928955078125e-7;
const SEED = 0x6f1c2a;
const TARGET_SPEEDUP = 10; // issue: wasm-simd single-thread ≥ 10× the plain-JS fused loop
const TOL_LOSS_REL = 1e-5;
const TOL_GRAD_ABS = 1e-5;

// ---------------------------------------------------------------------------------------------
// arguments

function parseArgs(argv) {
  const a = { json: undefined, rounds: 7, reps: 5, cold: true, kernel: true, kernelScalar: false, child: undefined, threadsOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const need = () => {
      if (i + 1 >= argv.length) usage(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--json') a.json = need();
    else if (k === '--rounds') a.rounds = posInt(k, need());
    else if (k === '--reps') a.reps = posInt(k, need());
    else if (k === '--no-cold') a.cold = false;
    else if (k === '--no-kernel') a.kernel = false;
    else if (k === '--kernel-scalar') a.kernelScalar = true;
    else if (k === '--threads-only') a.threadsOnly = true;
    else if (k === '--cold-child') a.child = need();
    else if (k === '-h' || k === '--help') usage();
    else usage(`unknown argument ${k}`);
  }
  return a;
}
function posInt(k, v) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) usage(`${k} expects a positive integer, got ${v}`);
  return n;
}
function usage(msg) {
  if (msg) console.error(`bench/qfl.mjs: ${msg}`);
  console.error('usage: node bench/qfl.mjs [--json PATH] [--rounds 7] [--reps 5] [--no-cold] [--no-kernel] [--kernel-scalar] [--threads-only]');
  process.exit(msg ? 2 : 0);
}

// ---------------------------------------------------------------------------------------------
// data

const DISTRIBUTIONS = [
  {
    key: 'detector',
    title: 'detector-like: logits ~ N(-4.6, 1), positives\' target logit ~ N(0, 2)',
    fill(pred, label, rand) {
      const g = gaussian(rand);
      for (let k = 0; k < pred.length; k++) pred[k] = -4.6 + g();
      for (let i = 0; i < N; i++) if (label[i] < C) pred[i * C + label[i]] = 2 * g();
    },
  },
  {
    key: 'uniform',
    title: 'uniform: logits ~ U[-8, 8]',
    fill(pred, _label, rand) {
      for (let k = 0; k < pred.length; k++) pred[k] = -8 + 16 * rand();
    },
  },
];

function makeData() {
  const rand = mulberry32(SEED);
  const { label, score, npos } = makeTargets(rand, N, C, POS_FRACTION);
  const sets = DISTRIBUTIONS.map((d) => {
    const pred = new Float32Array(N * C);
    d.fill(pred, label, rand);
    return { ...d, pred, label, score, npos, avgFactor: npos };
  });
  return sets;
}

// ---------------------------------------------------------------------------------------------
// contenders

function jsContender(set) {
  const gradPred = new Float32Array(N * C);
  const gradScore = new Float32Array(N);
  const coef = 1 / (set.avgFactor + FLOAT32_EPS);
  return () => {
    const loss = qflJs(set.pred, set.label, set.score, N, C, BETA, coef, gradPred, gradScore);
    return { loss, gradPred, gradScore };
  };
}

function apiContender(g, set, out) {
  const input = { pred: set.pred, label: set.label, score: set.score };
  const opts = { beta: BETA, avgFactor: set.avgFactor, out };
  return () => g.qualityFocalLossSync(input, opts);
}

/**
 * The zero-copy training call: the inputs live in buffers from g.allocate() (filled once here, as a training loop
 * writes its logits into them) and the gradients are written in place, so nothing is copied in or out.
 */
function zeroCopyContender(g, set) {
  const pred = g.allocate(N * C), label = g.allocate(N, 'int32'), score = g.allocate(N);
  pred.set(set.pred); label.set(set.label); score.set(set.score);
  const out = { gradPred: g.allocate(N * C), gradScore: g.allocate(N) };
  const opts = { beta: BETA, avgFactor: set.avgFactor, out };
  // the async call, which the pool splits over its threads (on 1 thread it runs on the calling thread)
  return () => g.qualityFocalLoss({ pred, label, score }, opts);
}

/** The async call (the one that uses the thread pool); the timing loop awaits it. */
function asyncContender(g, set, out) {
  const input = { pred: set.pred, label: set.label, score: set.score };
  const opts = { beta: BETA, avgFactor: set.avgFactor, out };
  return () => g.qualityFocalLoss(input, opts);
}

const settle = (r) => (r && typeof r.then === 'function' ? r : undefined);

const PAGE = 65536;
const align16 = (n) => Math.ceil(n / 16) * 16;

/** One kernel binary on its own imported memory, with every distribution's inputs laid out and copied once. */
function kernelHarness(file, sets) {
  const module = new WebAssembly.Module(readFileSync(join(ROOT, 'build', file)));
  const memory = new WebAssembly.Memory({ initial: 1 });
  const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
  let top = align16(k.heapBase());
  const take = (bytes) => { const p = top; top = align16(p + bytes); return p; };
  const pGrad = take(N * C * 4), pGradScore = take(N * 4), pCoef = take(N * 4);
  const layouts = sets.map(() => ({ pPred: take(N * C * 4), pLabel: take(N * 4), pScore: take(N * 4) }));
  if (top > memory.buffer.byteLength) memory.grow(Math.ceil((top - memory.buffer.byteLength) / PAGE));
  const buf = memory.buffer;
  sets.forEach((s, i) => {
    const L = layouts[i];
    new Float32Array(buf, L.pPred, N * C).set(s.pred);
    new Int32Array(buf, L.pLabel, N).set(s.label);
    new Float32Array(buf, L.pScore, N).set(s.score);
  });
  return {
    contender(setIndex) {
      const s = sets[setIndex], L = layouts[setIndex];
      const coef = Math.fround(1 / (s.avgFactor + FLOAT32_EPS));
      return () => {
        // the coefficient is rewritten per call (as the API does: 67,200 floats) so that sets can share one buffer
        new Float32Array(memory.buffer, pCoef, N).fill(coef);
        const loss = k.qflLogits(L.pPred, L.pLabel, L.pScore, pCoef, 0, 0, pGrad, pGradScore, N, C, BETA);
        return { loss, memory, pGrad, pGradScore };
      };
    },
    /** Views of the last result (valid until the memory grows; it never does after construction). */
    view(res) {
      return {
        loss: res.loss,
        gradPred: new Float32Array(memory.buffer, pGrad, N * C),
        gradScore: new Float32Array(memory.buffer, pGradScore, N),
      };
    },
    memory,
  };
}

/** The API's two big copies alone: pred in, gradient out. */
function copyContender(set) {
  const memory = new WebAssembly.Memory({ initial: Math.ceil((2 * N * C * 4 + 1024) / PAGE) });
  const dst = new Float32Array(N * C);
  return () => {
    new Float32Array(memory.buffer, 0, N * C).set(set.pred);
    dst.set(new Float32Array(memory.buffer, N * C * 4, N * C));
    return null;
  };
}

// ---------------------------------------------------------------------------------------------
// checks

function compare(ref, got) {
  const lossRel = Math.abs(got.loss - ref.loss) / Math.abs(ref.loss);
  let gAbs = 0, gMaxRef = 0, sAbs = 0, sMaxRef = 0, nonFinite = 0;
  for (let k = 0; k < ref.gradPred.length; k++) {
    const a = ref.gradPred[k], b = got.gradPred[k];
    if (!Number.isFinite(b)) nonFinite++;
    const d = Math.abs(a - b);
    if (d > gAbs || Number.isNaN(d)) gAbs = Number.isNaN(d) ? Infinity : d;
    if (Math.abs(a) > gMaxRef) gMaxRef = Math.abs(a);
  }
  for (let k = 0; k < ref.gradScore.length; k++) {
    const a = ref.gradScore[k], b = got.gradScore[k];
    if (!Number.isFinite(b)) nonFinite++;
    const d = Math.abs(a - b);
    if (d > sAbs || Number.isNaN(d)) sAbs = Number.isNaN(d) ? Infinity : d;
    if (Math.abs(a) > sMaxRef) sMaxRef = Math.abs(a);
  }
  const ok = lossRel < TOL_LOSS_REL && gAbs < TOL_GRAD_ABS && sAbs < TOL_GRAD_ABS && nonFinite === 0
    && Number.isFinite(got.loss);
  return {
    ok, loss: got.loss, refLoss: ref.loss, lossRelDiff: lossRel,
    gradPredMaxAbsDiff: gAbs, gradPredMaxAbsRef: gMaxRef,
    gradScoreMaxAbsDiff: sAbs, gradScoreMaxAbsRef: sMaxRef, nonFinite,
  };
}

// ---------------------------------------------------------------------------------------------
// timing

function probe() {
  // fixed pure-JS integer work, ~50-100 ms on an idle core; slower at the end = the machine got busier
  const t0 = performance.now();
  let x = 0x9e3779b9 | 0, acc = 0;
  for (let i = 0; i < 40_000_000; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    acc = (acc + (x & 0xffff)) | 0;
  }
  const ms = performance.now() - t0;
  if (acc === 42) console.log(''); // keep the loop alive
  return ms;
}

/** Two-worker CPU probe: one worker alone, then two at once, each timing the same fixed loop (see the header). */
async function parallelProbe() {
  const run = async (k) => {
    const ws = Array.from({ length: k }, () => new Worker(new URL(import.meta.url)));
    try {
      await Promise.all(ws.map((w) => new Promise((res, rej) => { w.once('message', res); w.once('error', rej); })));
      const times = ws.map((w) => new Promise((res, rej) => { w.once('message', res); w.once('error', rej); }));
      for (const w of ws) w.postMessage('go');
      return Math.max(...(await Promise.all(times)));
    } finally {
      await Promise.all(ws.map((w) => w.terminate()));
    }
  };
  const one = await run(1);
  const two = await run(2);
  return { oneMs: one, twoMs: two, capacity: (2 * one) / two };
}

function probeWorker() {
  parentPort.once('message', () => parentPort.postMessage(probe()));
  parentPort.postMessage('ready');
}

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const med = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { n: s.length, min: s[0], median: med, max: s[s.length - 1] };
}

const fmt = (ms) => (ms >= 100 ? ms.toFixed(1) : ms >= 10 ? ms.toFixed(2) : ms.toFixed(3));

// ---------------------------------------------------------------------------------------------
// cold child: one fresh process per contender: import + create + first call

async function coldChild(which) {
  const [set] = makeData(); // detector-like data
  const out = { gradPred: new Float32Array(N * C), gradScore: new Float32Array(N) };
  const r = {};
  if (which === 'js') {
    const f = jsContender(set);
    const t0 = performance.now();
    f();
    r.firstCall = performance.now() - t0;
    const t1 = performance.now();
    f();
    r.secondCall = performance.now() - t1;
  } else {
    let t = performance.now();
    const { createGflSync } = await import(DIST);
    r.import = performance.now() - t;
    t = performance.now();
    const g = createGflSync({ backend: which });
    r.create = performance.now() - t;
    const f = apiContender(g, set, out);
    t = performance.now();
    f();
    r.firstCall = performance.now() - t;
    t = performance.now();
    f();
    r.secondCall = performance.now() - t;
  }
  process.stdout.write(JSON.stringify(r));
}

function runCold(which) {
  const txt = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--cold-child', which], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(txt);
}

// ---------------------------------------------------------------------------------------------
// main

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.child) return coldChild(args.child);
  if (args.threadsOnly) return threadsOnly(args);

  const tStart = performance.now();
  const env = {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    platform: `${os.platform()} ${os.arch()} ${os.release()}`,
    loadavg: os.loadavg(),
  };
  console.log('gfloss QFL benchmark: forward + gradient, N = 67,200 × C = 80, β = 2, 5 % positive rows, ' +
    "reduction 'mean' with avgFactor = #positives");
  console.log(`date ${env.date} | node ${env.node} (V8 ${env.v8}) | ${env.cpu} | ${env.cores} cores | ${env.platform}`);
  console.log(`load average ${env.loadavg.map((l) => l.toFixed(2)).join(' ')}`);

  const probeStart = probe();
  console.log(`CPU probe (fixed JS loop) at start: ${fmt(probeStart)} ms`);
  const parStart = await parallelProbe();
  console.log(`parallel probe at start: 1 worker ${fmt(parStart.oneMs)} ms, 2 workers at once ${fmt(parStart.twoMs)} ms ` +
    `→ ${parStart.capacity.toFixed(2)}× parallel capacity (2.0 = two idle cores)`);

  // cold first calls, each in a fresh process
  let cold;
  if (args.cold) {
    cold = {};
    for (const w of ['wasm-scalar', 'wasm-simd', 'js']) cold[w] = runCold(w);
  }

  const { createGflSync, createGfl } = await import(DIST);
  const sets = makeData();
  const threadInsts = {};
  for (const t of [1, 2]) {
    const g = await createGfl({ backend: 'wasm-simd-threads', threads: t });
    if (g.backend !== 'wasm-simd-threads' || g.threads !== t) throw new Error(`asked for wasm-simd-threads × ${t}, got ${g.backend} × ${g.threads}`);
    threadInsts[t] = { g, out: { gradPred: new Float32Array(N * C), gradScore: new Float32Array(N) } };
  }
  const backends = ['wasm-scalar', 'wasm-simd'];
  const insts = Object.fromEntries(backends.map((b) => [b, createGflSync({ backend: b })]));
  for (const b of backends) {
    if (insts[b].backend !== b) throw new Error(`asked for ${b}, got ${insts[b].backend}`);
  }
  const outs = Object.fromEntries(backends.map((b) => [b, { gradPred: new Float32Array(N * C), gradScore: new Float32Array(N) }]));
  const harness = {};
  if (args.kernel && args.kernelScalar) harness['kernel-scalar'] = kernelHarness('gfloss.wasm', sets);
  if (args.kernel) harness['kernel-simd'] = kernelHarness('gfloss-simd.wasm', sets);

  // contenders per distribution
  const plan = sets.map((set, si) => {
    const c = [
      { name: 'js', fn: jsContender(set) },
      { name: 'api-scalar', fn: apiContender(insts['wasm-scalar'], set, outs['wasm-scalar']) },
      { name: 'api-simd', fn: apiContender(insts['wasm-simd'], set, outs['wasm-simd']) },
      { name: 'api-threads-1', fn: asyncContender(threadInsts[1].g, set, threadInsts[1].out) },
      { name: 'api-threads-2', fn: asyncContender(threadInsts[2].g, set, threadInsts[2].out) },
      { name: 'zero-copy-1', fn: zeroCopyContender(threadInsts[1].g, set) },
      { name: 'zero-copy-2', fn: zeroCopyContender(threadInsts[2].g, set) },
    ];
    for (const [name, h] of Object.entries(harness)) c.push({ name, fn: h.contender(si), harness: h });
    if (args.kernel) c.push({ name: 'copy', fn: copyContender(set), noCheck: true });
    return { set, contenders: c };
  });

  // correctness gate (also the first warm-up call of each contender)
  console.log('\ncorrectness (JS fused reference vs wasm): loss rel diff < 1e-5, grad max abs diff < 1e-5');
  const checks = {};
  let failed = false;
  for (const { set, contenders } of plan) {
    const js = contenders[0].fn();
    const ref = { loss: js.loss, gradPred: js.gradPred.slice(), gradScore: js.gradScore.slice() };
    checks[set.key] = {};
    for (const c of contenders.slice(1)) {
      if (c.noCheck) { c.fn(); continue; }
      let res = c.fn();
      if (settle(res)) res = await res;
      if (c.harness) res = c.harness.view(res);
      const cmp = compare(ref, res);
      checks[set.key][c.name] = cmp;
      if (!cmp.ok) failed = true;
      console.log(`  ${set.key.padEnd(9)} ${c.name.padEnd(13)} ${cmp.ok ? 'ok  ' : 'FAIL'} loss ${cmp.loss.toPrecision(9)} ` +
        `(js ${cmp.refLoss.toPrecision(9)}, rel ${cmp.lossRelDiff.toExponential(2)})  ` +
        `gradPred max|Δ| ${cmp.gradPredMaxAbsDiff.toExponential(2)} (max|g| ${cmp.gradPredMaxAbsRef.toExponential(2)})  ` +
        `gradScore max|Δ| ${cmp.gradScoreMaxAbsDiff.toExponential(2)} (max|g| ${cmp.gradScoreMaxAbsRef.toExponential(2)})`);
    }
  }
  if (failed) {
    console.error('\nFAIL: the JS reference and a wasm result disagree; not timing.');
    if (args.json) writeJson(args.json, { env, checks, failed: true });
    process.exit(1);
  }

  // warm-up: a few calls of each so every JIT tier has settled
  for (const { contenders } of plan) for (const c of contenders) for (let r = 0; r < 3; r++) await c.fn();

  // interleaved rounds
  const samples = plan.map(({ contenders }) => contenders.map(() => []));
  for (let round = 0; round < args.rounds; round++) {
    for (let si = 0; si < plan.length; si++) {
      const cs = plan[si].contenders;
      for (let q = 0; q < cs.length; q++) {
        const ci = (q + round) % cs.length; // rotate the order each round
        const fn = cs[ci].fn;
        for (let r = 0; r < args.reps; r++) {
          const t0 = performance.now();
          const p = settle(fn());
          if (p) await p;
          samples[si][ci].push(performance.now() - t0);
        }
      }
    }
  }
  const probeEnd = probe();
  const parEnd = await parallelProbe();

  // report
  const results = {};
  const targets = {};
  for (let si = 0; si < plan.length; si++) {
    const { set, contenders } = plan[si];
    const st = contenders.map((c, ci) => ({ name: c.name, ...stats(samples[si][ci]) }));
    const jsMed = st[0].median;
    for (const s of st) { s.speedupVsJs = jsMed / s.median; s.speedupVsJsMin = st[0].min / s.min; }
    results[set.key] = { title: set.title, positives: set.npos, contenders: st };
    const simd = st.find((s) => s.name === 'api-simd');
    targets[set.key] = {
      target: `api-simd ≥ ${TARGET_SPEEDUP}× js (median)`, speedup: simd.speedupVsJs, speedupOfMinima: simd.speedupVsJsMin,
      met: simd.speedupVsJs >= TARGET_SPEEDUP,
    };

    console.log(`\n[${set.key}] ${set.title}; ${set.npos} positive rows; ${args.rounds} rounds × ${args.reps} calls per contender`);
    console.log('  contender        min ms   median ms     max ms   speed-up vs js: median   (min)');
    for (const s of st) {
      console.log(`  ${s.name.padEnd(13)} ${fmt(s.min).padStart(9)} ${fmt(s.median).padStart(11)} ${fmt(s.max).padStart(10)}   ${s.speedupVsJs.toFixed(2).padStart(20)}×  ${s.speedupVsJsMin.toFixed(2).padStart(6)}×`);
    }
    const k = st.find((s) => s.name === 'kernel-simd');
    const cp = st.find((s) => s.name === 'copy');
    if (k) {
      // from the minima: the medians of two contenders can be hit unequally by a busy machine
      const ov = simd.min - k.min;
      console.log(`  api-simd overhead over its kernel (minima): ${fmt(ov)} ms = ${(100 * ov / simd.min).toFixed(0)} % of the call` +
        (cp ? `; the two big copies alone: ${fmt(cp.min)} ms` : ''));
    }
  }

  if (cold) {
    console.log('\ncold first call (fresh process each; detector-like data)');
    console.log('  contender      import ms   create ms   first call ms   second call ms');
    for (const [w, r] of Object.entries(cold)) {
      console.log(`  ${w.padEnd(13)} ${(r.import === undefined ? '-' : fmt(r.import)).padStart(9)} ${(r.create === undefined ? '-' : fmt(r.create)).padStart(11)} ${fmt(r.firstCall).padStart(15)} ${fmt(r.secondCall).padStart(16)}`);
    }
  }

  console.log('\nthreads (wasm-simd-threads, async API): 2 threads vs 1 thread of the same build');
  const threadBar = {};
  for (const key of Object.keys(results)) {
    const st = results[key].contenders;
    const t1 = st.find((x) => x.name === 'api-threads-1'), t2 = st.find((x) => x.name === 'api-threads-2');
    const sp = t1.median / t2.median, spMin = t1.min / t2.min;
    threadBar[key] = { speedup: sp, speedupOfMinima: spMin, met: sp >= 1.7, threads1Median: t1.median, threads2Median: t2.median };
    console.log(`  ${key.padEnd(9)} 1 thread ${fmt(t1.median)} ms, 2 threads ${fmt(t2.median)} ms (medians): ${sp.toFixed(2)}× ` +
      `(minima ${fmt(t1.min)} / ${fmt(t2.min)} ms: ${spMin.toFixed(2)}×)  bar 1.7×: ${sp >= 1.7 ? 'PASS' : 'MISS'}`);
    // the same comparison without the copies in and out, which stay on the calling thread
    const z1 = st.find((x) => x.name === 'zero-copy-1'), z2 = st.find((x) => x.name === 'zero-copy-2');
    if (z1 && z2) {
      const zs = z1.median / z2.median;
      threadBar[key].zeroCopy = { speedup: zs, speedupOfMinima: z1.min / z2.min, threads1Median: z1.median, threads2Median: z2.median };
      console.log(`  ${''.padEnd(9)} zero-copy: 1 thread ${fmt(z1.median)} ms, 2 threads ${fmt(z2.median)} ms (medians): ${zs.toFixed(2)}× ` +
        `(minima ${fmt(z1.min)} / ${fmt(z2.min)} ms: ${(z1.min / z2.min).toFixed(2)}×)  bar 1.7×: ${zs >= 1.7 ? 'PASS' : 'MISS'}`);
    }
  }
  const capacity = Math.min(parStart.capacity, parEnd.capacity);
  console.log(`  parallel probe: ${parStart.capacity.toFixed(2)}× at start, ${parEnd.capacity.toFixed(2)}× at end` +
    (capacity < 1.7 ? `  <-- the machine did not have two free cores (another job held CPU); a threads speed-up below the ` +
      'bar is expected here and says nothing about an idle machine' : '  (two cores were free)'));
  for (const { g } of Object.values(threadInsts)) await g.dispose();

  const probeRatio = Math.max(probeStart, probeEnd) / Math.min(probeStart, probeEnd);
  console.log(`\nCPU probe (fixed JS loop): start ${fmt(probeStart)} ms, end ${fmt(probeEnd)} ms` +
    (probeRatio > 1.2 ? `  <-- changed ${probeRatio.toFixed(1)}×: the machine's load varied during the run; ` +
      'trust the minima more than the medians' : ''));
  console.log(`load average at end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log('\ntargets');
  for (const [key, t] of Object.entries(targets)) {
    console.log(`  ${key.padEnd(9)} ${t.target}: ${t.speedup.toFixed(2)}× (minima: ${t.speedupOfMinima.toFixed(2)}×)  ${t.met ? 'PASS' : 'MISS'}`);
  }
  const totalS = (performance.now() - tStart) / 1000;
  console.log(`\nwall time ${totalS.toFixed(1)} s`);

  if (args.json) {
    writeJson(args.json, {
      env: { ...env, loadavgEnd: os.loadavg() },
      config: { N, C, beta: BETA, posFraction: POS_FRACTION, seed: SEED, rounds: args.rounds, reps: args.reps, reduction: 'mean', avgFactor: '#positives' },
      probe: { startMs: probeStart, endMs: probeEnd, parallelStart: parStart, parallelEnd: parEnd },
      threads: threadBar,
      checks, cold, results, targets, wallSeconds: totalS,
    });
    console.log(`wrote ${args.json}`);
  }
}

/** --threads-only: the threads bar alone, bracketed by the parallel probe. */
async function threadsOnly(args) {
  const { createGfl } = await import(DIST);
  const [set] = makeData(); // detector-like
  const before = await parallelProbe();
  const fns = [];
  for (const t of [1, 2]) {
    const g = await createGfl({ backend: 'wasm-simd-threads', threads: t });
    fns.push({ g, fn: asyncContender(g, set, { gradPred: new Float32Array(N * C), gradScore: new Float32Array(N) }) });
  }
  const ref = await fns[0].fn();
  const got = await fns[1].fn();
  if (ref.loss !== got.loss) throw new Error(`1 and 2 threads disagree: ${ref.loss} vs ${got.loss}`);
  for (const { fn } of fns) for (let r = 0; r < 3; r++) await fn();
  const samples = [[], []];
  for (let round = 0; round < args.rounds; round++) {
    for (let q = 0; q < 2; q++) {
      const i = (q + round) % 2;
      for (let r = 0; r < args.reps; r++) {
        const t0 = performance.now();
        await fns[i].fn();
        samples[i].push(performance.now() - t0);
      }
    }
  }
  const after = await parallelProbe();
  const [s1, s2] = samples.map(stats);
  console.log(`threads bar (detector-like QFL ${N}×${C}, ${args.rounds}×${args.reps} calls each): 1 thread ${fmt(s1.median)} ms ` +
    `(min ${fmt(s1.min)}), 2 threads ${fmt(s2.median)} ms (min ${fmt(s2.min)}): ${(s1.median / s2.median).toFixed(2)}× medians, ` +
    `${(s1.min / s2.min).toFixed(2)}× minima; parallel probe ${before.capacity.toFixed(2)}× before, ${after.capacity.toFixed(2)}× after`);
  for (const { g } of fns) await g.dispose();
}

function writeJson(path, obj) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(obj, null, 2) + '\n');
}

if (!isMainThread) probeWorker();
else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
