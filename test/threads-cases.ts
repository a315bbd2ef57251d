// Inputs for the threads tests: every loss, sized so that each kernel call is split over the pool (at least
// PARALLEL_MIN_ELEMENTS elements and several blocks), and a bitwise comparison of results.
import type { Gfl } from '../dist/index.js';
import { rng, uniform } from './helpers.js';

type Result = Record<string, unknown>;
export interface Case {
  name: string;
  /** kernel calls of the case that are split over the pool (default 1) */
  splits?: number;
  sync(g: Gfl): Result;
  async(g: Gfl): Promise<Result>;
}

const r = rng(2024);
// QFL / focal: N × C with C = 80 → 409 rows per block; 3000 rows = 8 blocks
const N = 3000, C = 80;
const pred = uniform(r, N * C, -8, 4);
const label = Int32Array.from({ length: N }, () => (r() < 0.1 ? Math.floor(r() * C) : C));
const score = uniform(r, N, 0, 1);
const weight = uniform(r, N, 0, 2);
const probs = pred.map((x) => 1 / (1 + Math.exp(-x)));
const dense = new Float32Array(N * C);
for (let i = 0; i < N; i++) if (label[i] < C) dense[i * C + label[i]] = score[i];
const gradOutRows = uniform(r, N, -1, 1);
// DFL / Integral: 17 bins → 1927 rows per block; 8000 rows = 5 blocks
const M = 8000, BINS = 17;
const dflPred = uniform(r, M * BINS, -3, 3);
const dflTarget = uniform(r, M, 0, 15.9);
const intGrad = uniform(r, M, -1, 1);
// boxes: 4 per row → 8192 rows per block; 20000 boxes = 3 blocks
const K = 20000;
const boxes = (jitter: number) => {
  const b = new Float32Array(K * 4);
  for (let i = 0; i < K; i++) {
    const x = r() * 600, y = r() * 600, w = 5 + r() * 100, h = 5 + r() * 100;
    b.set([x + jitter * (r() - 0.5), y + jitter * (r() - 0.5), x + w + jitter * (r() - 0.5), y + h + jitter * (r() - 0.5)], i * 4);
  }
  return b;
};
const boxPred = boxes(0), boxTarget = boxes(0).map((v, i) => boxPred[i] + (r() - 0.5) * 20);
// general form: 1 per row → 32768 rows per block; 70000 rows = 3 blocks
const G = 70000;
const general = {
  probLeft: uniform(r, G, 0.05, 0.5), probRight: uniform(r, G, 0.05, 0.5),
  yLeft: new Float32Array(G), yRight: new Float32Array(G).fill(1), target: uniform(r, G, 0, 1),
};

// the training step: 8 × 8,525 rows, so that its ATSS call (one image per block) and its QFL call are both split
const STEP_C = 4, STEP_B = 8, STEP_ROWS = STEP_B * 8525;
const step = (() => {
  const gtBoxes: Float32Array[] = [], gtLabels: Int32Array[] = [];
  for (let b = 0; b < STEP_B; b++) {
    const n = b === 3 ? 0 : 3 + Math.floor(r() * 10);
    const bx = new Float32Array(4 * n);
    for (let k = 0; k < n; k++) {
      const w = 16 + r() * 300, h = 16 + r() * 300, x = r() * (640 - w), y = r() * (640 - h);
      bx.set([x, y, x + w, y + h], 4 * k);
    }
    gtBoxes.push(bx);
    gtLabels.push(Int32Array.from({ length: n }, () => Math.floor(r() * STEP_C)));
  }
  return {
    input: {
      clsLogits: uniform(r, STEP_ROWS * STEP_C, -7, 2), regLogits: uniform(r, STEP_ROWS * 68, -3, 3), gtBoxes, gtLabels,
      imageSize: [640, 640] as [number, number],
    },
  };
})();

// task-aligned assignment + YOLOv8 loss: 10 images × 2,000 anchor points, nc = 20 → the assignment runs in 5 blocks of
// 2 images (at most 8 blocks: a block's images share its scratch), the loss's class pass 10 × 2,000 × 20 logits
const YB = 10, YNC = 20, YLEVELS: Array<[number, number]> = [[40, 40], [20, 20]], YSTRIDES = [8, 16];
const yolo = (() => {
  const pts: number[] = [];
  YLEVELS.forEach(([h, w], l) => { for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) pts.push((x + 0.5) * YSTRIDES[l], (y + 0.5) * YSTRIDES[l]); });
  const A = pts.length / 2, M = 6;
  const anchorPoints = Float32Array.from(pts);
  const predScores = uniform(r, YB * A * YNC, -5, 2);
  const pdScores = predScores.map((x) => 1 / (1 + Math.exp(-x)));
  const pdBboxes = new Float32Array(YB * A * 4);
  for (let i = 0; i < YB * A; i++) {
    const a = i % A, cx = pts[2 * a], cy = pts[2 * a + 1], w = 8 + r() * 120, h = 8 + r() * 120;
    pdBboxes.set([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], i * 4);
  }
  const gtBboxes = new Float32Array(YB * M * 4), gtLabels = new Int32Array(YB * M);
  for (let i = 0; i < YB * M; i++) {
    if (i % M === M - 1) continue; // one padding slot per image
    const w = 16 + r() * 150, h = 16 + r() * 150, x = r() * (320 - w), y = r() * (320 - h);
    gtBboxes.set([x, y, x + w, y + h], i * 4);
    gtLabels[i] = Math.floor(r() * YNC);
  }
  return { tal: { pdScores, pdBboxes, anchorPoints, gtLabels, gtBboxes }, predScores, predDistri: uniform(r, YB * A * 64, -3, 3) };
})();

const YOPTS = { levels: YLEVELS, strides: YSTRIDES, batchSize: YB };
type Tal = ReturnType<Gfl['taskAlignedAssignSync']>;
type Yolo = ReturnType<Gfl['yoloV8LossSync']>;
const yoloInput = (t: Tal) => ({ predScores: yolo.predScores, predDistri: yolo.predDistri, targetBboxes: t.targetBboxes, targetScores: t.targetScores, fgMask: t.fgMask });
const yoloResult = (t: Tal, l: Yolo): Result => ({
  numFg: t.numFg, targetBboxes: t.targetBboxes, targetScores: t.targetScores, targetLabels: Float32Array.from(t.targetLabels),
  targetGtIdx: Float32Array.from(t.targetGtIdx), fgMask: Float32Array.from(t.fgMask), loss: l.loss, lossBox: l.lossBox,
  lossCls: l.lossCls, lossDfl: l.lossDfl, gradPredScores: l.gradPredScores, gradPredDistri: l.gradPredDistri,
});
function yoloSync(g: Gfl): Result {
  const t = g.taskAlignedAssignSync(yolo.tal);
  return yoloResult(t, g.yoloV8LossSync(yoloInput(t), YOPTS));
}
async function yoloAsync(g: Gfl): Promise<Result> {
  const t = await g.taskAlignedAssign(yolo.tal);
  return yoloResult(t, await g.yoloV8Loss(yoloInput(t), YOPTS));
}

function both(name: string, f: (g: Gfl, a: boolean) => Result | Promise<Result>): Case {
  return { name, sync: (g) => f(g, false) as Result, async: (g) => Promise.resolve(f(g, true)) };
}

export const CASES: Case[] = [
  both('qfl logits, mean + rowLoss + elementLoss', (g, a) => {
    const args = [{ pred, label, score }, { weight, avgFactor: 37, returnRowLoss: true, returnElementLoss: true }] as const;
    return (a ? g.qualityFocalLoss(...args) : g.qualityFocalLossSync(...args)) as unknown as Result;
  }),
  both('qfl logits, none + gradOutput, β = 1.5', (g, a) => {
    const args = [{ pred, label, score }, { beta: 1.5, reduction: 'none' as const, gradOutput: gradOutRows }] as const;
    return (a ? g.qualityFocalLoss(...args) : g.qualityFocalLossSync(...args)) as unknown as Result;
  }),
  both('qfl activated', (g, a) => {
    const args = [{ pred: probs, label, score }, { activated: true, reduction: 'sum' as const }] as const;
    return (a ? g.qualityFocalLoss(...args) : g.qualityFocalLossSync(...args)) as unknown as Result;
  }),
  both('qfl dense', (g, a) => {
    const args = [{ pred, target: dense }, { numClasses: C, avgFactor: 12 }] as const;
    return (a ? g.qualityFocalLossDense(...args) : g.qualityFocalLossDenseSync(...args)) as unknown as Result;
  }),
  both('sigmoid focal', (g, a) => {
    const args = [{ pred, label }, { alpha: 0.25, gamma: 2, avgFactor: 50, returnElementLoss: true }] as const;
    return (a ? g.sigmoidFocalLoss(...args) : g.sigmoidFocalLossSync(...args)) as unknown as Result;
  }),
  both('dfl mmdet', (g, a) => {
    const args = [{ pred: dflPred, target: dflTarget }, { bins: BINS, avgFactor: 100, returnRowLoss: true }] as const;
    return (a ? g.distributionFocalLoss(...args) : g.distributionFocalLossSync(...args)) as unknown as Result;
  }),
  both('dfl ultralytics', (g, a) => {
    const args = [{ pred: dflPred, target: dflTarget }, { bins: BINS, convention: 'ultralytics' as const, lossWeight: 0.25 }] as const;
    return (a ? g.distributionFocalLoss(...args) : g.distributionFocalLossSync(...args)) as unknown as Result;
  }),
  both('integral', (g, a) => {
    const args = [{ x: dflPred }, { bins: BINS }] as const;
    return (a ? g.integral(...args) : g.integralSync(...args)) as unknown as Result;
  }),
  both('integral vjp', (g, a) => {
    const args = [{ x: dflPred }, { bins: BINS, gradOutput: intGrad }] as const;
    return (a ? g.integral(...args) : g.integralSync(...args)) as unknown as Result;
  }),
  both('giou', (g, a) => {
    const args = [{ pred: boxPred, target: boxTarget }, { returnIou: true, returnGiou: true, returnRowLoss: true }] as const;
    return (a ? g.giouLoss(...args) : g.giouLossSync(...args)) as unknown as Result;
  }),
  both('ciou', (g, a) => {
    const args = [{ pred: boxPred, target: boxTarget }, { returnCiou: true, reduction: 'sum' as const }] as const;
    return (a ? g.ciouLoss(...args) : g.ciouLossSync(...args)) as unknown as Result;
  }),
  both('general GFL', (g, a) => {
    const args = [general, { beta: 2 }] as const;
    return (a ? g.generalizedFocalLoss(...args) : g.generalizedFocalLossSync(...args)) as unknown as Result;
  }),
  { ...both('GFL training step, 8 images of 640 × 640 (ATSS one image per block, head loss with streamed class logits)', (g, a) => {
    const args = [step.input, { numClasses: STEP_C }] as const;
    return (a ? g.step(...args) : g.stepSync(...args)) as unknown as Result;
  }), splits: 2 },
  { ...both('task-aligned assignment (blocks of images sharing a scratch) + YOLOv8 loss', (g, a) => (a ? yoloAsync(g) : yoloSync(g))), splits: 2 },
];

/** '' when every field is bitwise equal, else a description of the first difference. */
export function bitwiseDiff(ref: Result, got: Result): string {
  const keys = new Set([...Object.keys(ref), ...Object.keys(got)]);
  for (const k of keys) {
    const a = ref[k], b = got[k];
    if (typeof a === 'number' || typeof b === 'number') {
      if (typeof a !== 'number' || typeof b !== 'number') return `${k}: ${String(a)} vs ${String(b)}`;
      const x = new Float64Array([a, b]);
      const u = new Uint32Array(x.buffer);
      if (u[0] !== u[2] || u[1] !== u[3]) return `${k}: ${a} vs ${b}`;
    } else if (a instanceof Float32Array || b instanceof Float32Array) {
      if (!(a instanceof Float32Array) || !(b instanceof Float32Array) || a.length !== b.length) return `${k}: shape differs`;
      const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
      for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return `${k}[${i}]: ${a[i]} vs ${b[i]}`;
    } else if (a !== b) return `${k}: ${String(a)} vs ${String(b)}`;
  }
  return '';
}

/** '' when a and b are equal bit for bit (numbers, typed arrays, arrays and objects of them), else the first difference. */
export function deepBitwiseDiff(a: unknown, b: unknown, path = 'result'): string {
  if (typeof a === 'number' && typeof b === 'number') {
    const x = new Float64Array([a, b]), u = new Uint32Array(x.buffer);
    return u[0] === u[2] && u[1] === u[3] ? '' : `${path}: ${a} vs ${b}`;
  }
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    if (a.constructor !== b.constructor || a.byteLength !== b.byteLength) return `${path}: type or length differs`;
    const ua = new Uint8Array(a.buffer, a.byteOffset, a.byteLength), ub = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return `${path}: byte ${i} differs`;
    return '';
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path}: length ${a.length} vs ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = deepBitwiseDiff(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return '';
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const d = deepBitwiseDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
      if (d) return d;
    }
    return '';
  }
  return Object.is(a, b) ? '' : `${path}: ${String(a)} vs ${String(b)}`;
}

export interface RecordedCall { method: string; args: unknown[]; result: unknown }

/**
 * A stand-in for a Gfl that the conformance runner (which calls the synchronous methods) can drive: each `…Sync` call
 * runs on `ref` and is recorded, so that it can be replayed through the asynchronous twin on another instance.
 */
export function recorder(ref: Gfl, calls: RecordedCall[]): Gfl {
  return new Proxy(ref, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || !prop.endsWith('Sync') || typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        const result = (v as (...a: unknown[]) => unknown).apply(target, args);
        calls.push({ method: prop.slice(0, -4), args, result });
        return result;
      };
    },
  });
}
