// The golden smoke test shared by every runtime (Node, Deno, Bun, Chromium, workerd): plain ESM with no imports, so
// that each runtime's driver hands it the package (imported by name), the conformance helpers and the golden cases
// as bytes, and prints the summary it returns. Runs every public golden whose op the package supports on every
// backend the runtime offers, and checks each one against the case's own values under its tolerance hints.

/** Decodes one golden case from its file bytes (gzip via DecompressionStream, which every target runtime has). */
export async function decodeCase(bytes, gzipped) {
  let text;
  if (gzipped) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    text = await new Response(stream).text();
  } else {
    text = new TextDecoder().decode(bytes);
  }
  return JSON.parse(text);
}

export function runtimeName() {
  const g = globalThis;
  if (g.navigator?.userAgent === 'Cloudflare-Workers') return 'workerd';
  if (typeof g.Deno !== 'undefined') return 'deno';
  if (typeof g.Bun !== 'undefined') return 'bun';
  if (typeof g.window !== 'undefined' && typeof g.document !== 'undefined') return 'browser';
  if (typeof g.process?.versions?.node === 'string') return 'node';
  return 'unknown';
}

function runtimeVersion() {
  const g = globalThis;
  if (typeof g.Deno !== 'undefined') return g.Deno.version.deno;
  if (typeof g.Bun !== 'undefined') return g.Bun.version;
  return g.navigator?.userAgent ?? g.process?.version ?? '';
}

function sameBits(a, b) {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}

/** Every output and gradient of two runs of one case, compared bit for bit (NaN == NaN: engines may differ in its sign). */
export function compareBits(r1, r2) {
  const diffs = [];
  for (const [k, v] of Object.entries(r1.outputs)) if (!sameBits(v, r2.outputs[k])) diffs.push(`outputs.${k}`);
  for (const [o, g] of Object.entries(r1.grads)) for (const [k, v] of Object.entries(g)) if (!sameBits(v, r2.grads[o][k])) diffs.push(`grads.${o}.${k}`);
  return diffs;
}

/** Deep bit-for-bit equality of two results (typed arrays by their bytes, numbers with NaN == NaN); the differing paths. */
export function diffBits(a, b, path = '', out = []) {
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b) || a.constructor !== b.constructor) out.push(`${path} (type)`);
    else if (a instanceof Float32Array) { if (!sameBits(a, b)) out.push(path); }
    else if (a.length !== b.length || a.some((v, i) => !Object.is(v, b[i]))) out.push(path);
  } else if (typeof a === 'number' || typeof b === 'number') {
    if (!(Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)))) out.push(`${path} (${a} vs ${b})`);
  } else if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) diffBits(a[k], b[k], path ? `${path}.${k}` : k, out);
  } else if (a !== b) out.push(path);
  return out;
}

/** Wraps an instance so that every …Sync call made through it is recorded with its arguments and result. */
function recording(g, calls) {
  return new Proxy(g, {
    get(target, key) {
      const v = target[key];
      if (typeof v !== 'function') return v;
      if (typeof key === 'string' && key.endsWith('Sync')) {
        return (...args) => { const result = v.apply(target, args); calls.push({ method: key.slice(0, -4), args, result }); return result; };
      }
      return v.bind(target);
    },
  });
}

/** mulberry32 */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Training-sized calls that the pool splits over its threads: QFL at 8400 × 80, 8400 × 20 and 8400 × 1,
 * DFL over 40,000 rows, GIoU over 50,000
 * boxes, a training step of 8 images of 640 × 640 (ATSS one image per block, the head loss's streamed class logits),
 * the YOLOv8 loss of 4 images and task-aligned assignment of 10 images (blocks of two images).
 */
function largeCalls() {
  const r = rng(7);
  const N = 8400, C = 80, M = 40000, K = 50000;
  const pred = Float32Array.from({ length: N * C }, () => r() * 12 - 8);
  const label = Int32Array.from({ length: N }, () => (r() < 0.05 ? Math.floor(r() * C) : C));
  const score = Float32Array.from({ length: N }, () => r());
  const pred20 = Float32Array.from({ length: N * 20 }, () => -4.6 + 3 * (r() - 0.5));
  const label20 = label.map((l) => (l < C ? l % 20 : 20));
  const pred1 = Float32Array.from({ length: N }, () => -4.6 + 3 * (r() - 0.5));
  const label1 = label.map((l) => (l < C ? 0 : 1));
  const dflPred = Float32Array.from({ length: M * 17 }, () => r() * 6 - 3);
  const dflTarget = Float32Array.from({ length: M }, () => r() * 15.9);
  const box = (i, j) => { const x = (i * 37) % 600, y = (i * 53) % 600; return [x + j, y, x + 20 + r() * 80, y + 20 + r() * 80]; };
  const boxPred = Float32Array.from({ length: K * 4 }, (_, i) => box(i >> 2, 0)[i & 3]);
  const boxTarget = Float32Array.from({ length: K * 4 }, (_, i) => boxPred[i] + (r() - 0.5) * 10);
  const B = 8, rows = B * 8525, SC = 4;
  const gtBoxes = [], gtLabels = [];
  for (let b = 0; b < B; b++) {
    const n = b === 2 ? 0 : 3 + Math.floor(r() * 8);
    gtBoxes.push(Float32Array.from({ length: 4 * n }, (_, i) => { const k = i >> 2, x = (k * 97 + b * 31) % 400, y = (k * 61 + b * 17) % 400; return [x, y, x + 30 + ((k * 13) % 200), y + 30 + ((k * 29) % 200)][i & 3]; }));
    gtLabels.push(Int32Array.from({ length: n }, (_, k) => (k + b) % SC));
  }
  const stepInput = {
    clsLogits: Float32Array.from({ length: rows * SC }, () => r() * 9 - 7), regLogits: Float32Array.from({ length: rows * 68 }, () => r() * 6 - 3),
    gtBoxes, gtLabels, imageSize: [640, 640],
  };
  // task-aligned assignment of 10 images (blocks of 2 images on the pool): 2,000 anchor points, nc 20, 6 gt slots
  const TB = 10, TNC = 20, TM = 6, pts = [];
  for (const [h, s] of [[40, 8], [20, 16]]) for (let y = 0; y < h; y++) for (let x = 0; x < h; x++) pts.push((x + 0.5) * s, (y + 0.5) * s);
  const TA = pts.length / 2;
  const talInput = {
    pdScores: Float32Array.from({ length: TB * TA * TNC }, () => r()),
    pdBboxes: Float32Array.from({ length: TB * TA * 4 }, (_, i) => { const a = (i >> 2) % TA, c = pts[2 * a + (i & 1)]; return (i & 2) ? c + 4 + r() * 40 : c - 4 - r() * 40; }),
    anchorPoints: Float32Array.from(pts),
    gtLabels: Int32Array.from({ length: TB * TM }, (_, k) => k % TNC),
    gtBboxes: Float32Array.from({ length: TB * TM * 4 }, (_, i) => { const k = i >> 2; if (k % TM === TM - 1) return 0; const x = (k * 41) % 220, y = (k * 23) % 220; return [x, y, x + 30 + ((k * 7) % 90), y + 30 + ((k * 11) % 90)][i & 3]; }),
  };
  // the YOLOv8 loss of 4 images at 320 × 320 (2,100 anchor points each, nc 20, 16 bins): its BCE pass over every logit
  // and its foreground pass, both split over the pool
  const YB = 4, YNC = 20, ylevels = [[40, 40], [20, 20], [10, 10]], ystrides = [8, 16, 32];
  const yrows = YB * ylevels.reduce((a, [h, w]) => a + h * w, 0);
  const fgMask = Uint8Array.from({ length: yrows }, () => (r() < 0.1 ? 1 : 0));
  const targetBboxes = new Float32Array(yrows * 4), targetScores = new Float32Array(yrows * YNC);
  for (let i = 0; i < yrows; i++) {
    const x = (i * 37) % 280, y = (i * 53) % 280;
    targetBboxes.set([x, y, x + 8 + r() * 40, y + 8 + r() * 40], 4 * i);
    if (fgMask[i]) targetScores[i * YNC + (i % YNC)] = r();
  }
  const yoloInput = {
    predScores: Float32Array.from({ length: yrows * YNC }, () => r() * 10 - 8),
    predDistri: Float32Array.from({ length: yrows * 64 }, () => r() * 6 - 3), targetBboxes, targetScores, fgMask,
  };
  return [
    { method: 'qualityFocalLoss', args: [{ pred, label, score }, { beta: 2, avgFactor: 420, returnRowLoss: true }] },
    // the runs of sixteen with a row tail (20 classes) and four rows per vector (one class), detector-like logits
    { method: 'qualityFocalLoss', args: [{ pred: pred20, label: label20, score }, { beta: 2, returnRowLoss: true }] },
    { method: 'qualityFocalLoss', args: [{ pred: pred1, label: label1, score }, { beta: 2, avgFactor: 21 }] },
    { method: 'yoloV8Loss', args: [yoloInput, { levels: ylevels, strides: ystrides, batchSize: YB }] },
    { method: 'step', args: [stepInput, { numClasses: SC }] },
    { method: 'taskAlignedAssign', args: [talInput] },
    { method: 'distributionFocalLoss', args: [{ pred: dflPred, target: dflTarget }, { bins: 17, avgFactor: 4 }] },
    { method: 'giouLoss', args: [{ pred: boxPred, target: boxTarget }, { returnIou: true }] },
  ];
}

/**
 * QFL's label form at the class counts whose SIMD paths the goldens' 80 classes do not reach: 1 (four rows per vector),
 * 4 (four-wide chunks per row), 20 and 81 (runs of sixteen, then each row's last C mod 16 logits), with detector-like
 * logits (most below −1.5, where the far formulas run; 30 % in [−2.5, −1], so that runs of sixteen and chunks of four
 * straddle −1.5 and the far polynomial's top end is used) and about 5 % positive rows, at β 2 and 1.5.
 */
function classCountCalls() {
  const r = rng(11), calls = [];
  for (const c of [1, 4, 20, 81]) {
    const n = 203;
    const pred = Float32Array.from({ length: n * c }, () => (r() < 0.3 ? -2.5 + 1.5 * r() : -4.6 + 3 * (r() - 0.5)));
    const label = Int32Array.from({ length: n }, () => (r() < 0.05 ? Math.floor(r() * c) : c));
    for (let i = 0; i < n; i++) if (label[i] < c) pred[i * c + label[i]] = 4 * (r() - 0.5);
    const score = Float32Array.from({ length: n }, () => r());
    for (const beta of [2, 1.5]) {
      calls.push({ c, beta, args: [{ pred, label, score }, { beta, reduction: 'none', returnElementLoss: true }] });
    }
  }
  return calls;
}

/**
 * The outputs of a classCountCalls() result against the scalar build's, element by element: within 2e-6 relative
 * (the SIMD far-negative formulas' stated bound, with room) plus 2e-8 of the output's largest magnitude (cancellation in
 * a positive's gradient). Returns the first mismatch, or ''.
 */
function classCountMismatch(got, ref) {
  for (const k of ['elementLoss', 'rowLoss', 'gradPred', 'gradScore']) {
    const a = got[k], b = ref[k];
    if (!a || !b || a.length !== b.length) return `${k}: missing or of another length`;
    let max = 1;
    for (const v of b) if (Math.abs(v) > max) max = Math.abs(v);
    for (let i = 0; i < b.length; i++) {
      if (!(Math.abs(a[i] - b[i]) <= 2e-6 * Math.abs(b[i]) + 2e-8 * max)) return `${k}[${i}] ${a[i]} vs ${b[i]}`;
    }
  }
  return '';
}

/**
 * @param {object} o
 * @param {object} o.gfloss       the package's namespace (import * as gfloss from 'gfloss')
 * @param {object} o.conformance  import * as conformance from 'gfloss/conformance'
 * @param {Array<{file: string, case: object}>} o.cases  every golden file, decoded
 * @param {Record<string, string|URL>} [o.wasmUrls]  backend -> URL of its .wasm: also load each through createGfl({ wasmUrl })
 *                                  and check that it gives the embedded module's results bit for bit
 */
export async function runGoldens({ gfloss, conformance, cases, wasmUrls }) {
  const t0 = Date.now();
  const caps = gfloss.getCapabilities();
  const backends = gfloss.availableBackends(caps);
  const supported = cases.filter((c) => conformance.SUPPORTED_OPS.includes(c.case.op));
  const unsupported = cases.filter((c) => !conformance.SUPPORTED_OPS.includes(c.case.op)).map((c) => `${c.file} (${c.case.op})`);
  const failures = [];
  const perBackend = {};
  const auto = await gfloss.createGfl();
  const summary = {
    runtime: runtimeName(), version: runtimeVersion(), capabilities: caps, backends, auto: { backend: auto.backend, reason: auto.backendReason },
    files: cases.length, unsupported, perBackend, wasmUrl: {}, failures,
  };
  await auto.dispose();
  const reference = {};
  const classCalls = classCountCalls(), classResults = {};
  summary.classCounts = {};
  for (const backend of backends) {
    const g = await gfloss.createGfl({ backend });
    if (g.backend !== backend) failures.push(`createGfl({ backend: '${backend}' }) gave ${g.backend}`);
    classResults[backend] = classCalls.map((call) => g.qualityFocalLossSync(...call.args));
    let passed = 0;
    reference[backend] = {};
    for (const { file, case: c } of supported) {
      try {
        const r = conformance.runCase(g, c);
        reference[backend][file] = r;
        const bad = conformance.compareCase(c, r).filter((k) => !k.pass);
        if (bad.length) failures.push(`${file} [${backend}]: ${bad.map((k) => `${k.field} max|err| ${k.maxAbsErr}`).join('; ')}`);
        else passed++;
      } catch (e) {
        failures.push(`${file} [${backend}]: threw ${e && e.stack || e}`);
      }
    }
    perBackend[backend] = passed;
    await g.dispose();
  }
  // the SIMD builds at the class counts of classCountCalls(), against the scalar build
  for (const backend of backends.filter((b) => b !== 'wasm-scalar')) {
    let same = 0;
    classCalls.forEach((call, i) => {
      const bad = classCountMismatch(classResults[backend][i], classResults['wasm-scalar'][i]);
      const what = `QFL at ${call.c} class${call.c === 1 ? '' : 'es'}, β ${call.beta} [${backend}]`;
      if (bad) failures.push(`${what}: ${bad} (wasm-scalar)`);
      else same++;
    });
    summary.classCounts[backend] = same;
  }
  for (const [backend, url] of Object.entries(wasmUrls ?? {})) {
    try {
      const g = await gfloss.createGfl({ backend, wasmUrl: url });
      let same = 0;
      for (const { file, case: c } of supported) {
        const diffs = compareBits(conformance.runCase(g, c), reference[backend][file]);
        if (diffs.length) failures.push(`${file} [${backend} via wasmUrl]: differs from the embedded module in ${diffs.join(', ')}`);
        else same++;
      }
      summary.wasmUrl[backend] = same;
      await g.dispose();
    } catch (e) {
      failures.push(`wasmUrl ${String(url)} [${backend}]: threw ${e && e.stack || e}`);
    }
  }
  // 'wasm-simd-threads' (where createGfl can start it): the goldens' calls, replayed through the asynchronous methods
  // on 1 and 2 threads, and training-sized calls that the pool splits, must give what single-thread SIMD gives, bit
  // for bit; then dispose() ends the workers (the driver checks that the process exits by itself).
  summary.asyncBackends = gfloss.availableBackends(caps, { async: true });
  if (summary.asyncBackends.includes('wasm-simd-threads')) {
    summary.threads = {};
    const calls = [];
    const simd = await gfloss.createGfl({ backend: 'wasm-simd' });
    const rec = recording(simd, calls);
    for (const { case: c } of supported) conformance.runCase(rec, c);
    const large = largeCalls();
    for (const call of large) call.result = await simd[call.method](...call.args);
    simd.dispose();
    for (const threads of [1, 2]) {
      const t = { goldenCalls: 0, largeCalls: 0 };
      summary.threads[threads] = t;
      let g;
      try {
        g = await gfloss.createGfl({ backend: 'wasm-simd-threads', threads });
        t.backend = g.backend;
        t.threads = g.threads;
        for (const [list, key] of [[calls, 'goldenCalls'], [large, 'largeCalls']]) {
          for (const call of list) {
            const diffs = diffBits(await g[call.method](...call.args), call.result);
            if (diffs.length) failures.push(`${call.method} on ${threads} thread(s) differs from wasm-simd in ${diffs.slice(0, 5).join(', ')}`);
            else t[key]++;
          }
        }
        // zero-copy: the step's logits and both gradients in allocate() buffers (read and written in place; the dense
        // box gradient by the wasm pass), the outputs stale beforehand: the same bits as wasm-simd
        const stepCall = large.find((call) => call.method === 'step');
        const [stepIn, stepOpts] = stepCall.args;
        const clsLogits = g.allocate(stepIn.clsLogits.length), regLogits = g.allocate(stepIn.regLogits.length);
        clsLogits.set(stepIn.clsLogits); regLogits.set(stepIn.regLogits);
        const out = { gradClsScore: g.allocate(clsLogits.length).fill(7), gradBboxPred: g.allocate(regLogits.length).fill(7) };
        const zeroCopy = await g.step({ ...stepIn, clsLogits, regLogits }, { ...stepOpts, out });
        const zeroCopyDiffs = diffBits(zeroCopy, stepCall.result);
        t.zeroCopyStep = zeroCopyDiffs.length === 0 && zeroCopy.gradBboxPred === out.gradBboxPred;
        if (!t.zeroCopyStep) failures.push(`zero-copy step on ${threads} thread(s) differs from wasm-simd in ${zeroCopyDiffs.slice(0, 5).join(', ') || 'where it writes'}`);
        // concurrent calls from several callers queue and still give the same bits
        const all = await Promise.all(large.map((call) => g[call.method](...call.args)));
        t.concurrent = all.every((r, i) => diffBits(r, large[i].result).length === 0);
        if (!t.concurrent) failures.push(`concurrent calls on ${threads} thread(s) differ from wasm-simd`);
      } catch (e) {
        failures.push(`wasm-simd-threads, ${threads} thread(s): threw ${e && e.stack || e}`);
      } finally {
        await g?.dispose();
      }
    }
  }
  summary.ms = Date.now() - t0;
  return summary;
}
