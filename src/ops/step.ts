// The GFL training step in one call: anchors → ATSS targets (GFLHead.get_targets) → GFL head loss
// (GFLHead.loss_by_feat), i.e. what mmdetection's GFLHead.loss computes from the head outputs and the gt boxes.
// Rows of the head outputs are level-major, then image, then y, x (each level's (B, C, H, W) map permuted to
// (B, H, W, C) and flattened, levels concatenated), the order gflHeadLoss takes; the targets, which ATSS produces per
// image, are written in that order. The per-step buffers are cached by shape on the instance, so a training loop
// with fixed shapes and preallocated gradients (`out`) allocates after its first step only what grows with the
// number of gt boxes and positives (gt copies, positive indices) and the result objects: nothing of size N or N × C,
// as long as every image fills the batch's padded shape (an image with a smaller `imageSize` has its valid anchors
// listed and compacted each step).
import { GflInputError } from '../errors.js';
import type { WasmRuntime, Op } from '../wasm/runtime.js';
import { plainObject, knownKeys, positiveInt, bool } from '../validate.js';
import { atssPlan, atssTargetsInto } from './assign.js';
import { gflHeadLoss, type GflHeadResult } from './gfl-head.js';
import { featmapList, featmapSizesFor, strideList, GFL_STRIDES } from './anchors.js';

export interface GflStepInput {
  /** N × C classification logits, N = B·Σ_l H_l·W_l, rows level-major, then image, y, x. */
  clsLogits: Float32Array;
  /** N × 4·bins box-distribution logits, same rows. */
  regLogits: Float32Array;
  /** Per image: G_b × 4 gt boxes (xyxy pixels). */
  gtBoxes: ReadonlyArray<Float32Array>;
  /** Per image: G_b class indices in [0, numClasses). */
  gtLabels: ReadonlyArray<Int32Array>;
  /** [H, W] of the padded input (all images), or one [H, W] per image; feature maps are ceil(max / stride). */
  imageSize: readonly [number, number] | ReadonlyArray<readonly [number, number]>;
  /** Default [8, 16, 32, 64, 128]. */
  strides?: readonly number[];
}

export interface GflStepOptions {
  /** C; default clsLogits.length / N. */
  numClasses?: number;
  /** Bins per side; default 17 (reg_max 16). */
  bins?: number;
  /** QFL β; default 2. */
  beta?: number;
  /** ATSS topk; default 9. */
  topk?: number;
  /** Feature map sizes, if not ceil(imageSize / stride). */
  featmapSizes?: ReadonlyArray<readonly [number, number]>;
  lossWeight?: { cls?: number; bbox?: number; dfl?: number };
  grad?: boolean;
  /** Also return the assignment (labels, weights, targets per row, avg factor, positives). */
  returnTargets?: boolean;
  out?: { gradClsScore?: Float32Array; gradBboxPred?: Float32Array };
}

export interface GflStepResult extends GflHeadResult {
  /** Σ_b max(num_pos_b, 1), the QFL avg_factor used. */
  avgFactor: number;
  numPos: number;
  targets?: { labels: Int32Array; labelWeights: Float32Array; bboxTargets: Float32Array };
}

/**
 * Row-order buffers of one shape, reused across steps: anchors and strides per row, `rowOf` (image b's anchor n →
 * row), and the targets that ATSS writes straight into row order.
 */
interface Layout { key: string; anchors: Float32Array; stride: Float32Array; rowOf: Int32Array; labels: Int32Array; labelWeights: Float32Array; bboxTargets: Float32Array }

export class StepCache {
  private layout: Layout | undefined;
  get(key: string, make: () => Layout): Layout {
    if (!this.layout || this.layout.key !== key) this.layout = make();
    return this.layout;
  }
}

export function* gflStep(rt: WasmRuntime, cache: StepCache, input: GflStepInput, options?: GflStepOptions): Op<GflStepResult> {
  const inp = plainObject('input', input);
  const o = plainObject('options', options);
  knownKeys('options', o, ['numClasses', 'bins', 'beta', 'topk', 'featmapSizes', 'lossWeight', 'grad', 'returnTargets', 'out']);
  if (!Array.isArray(inp.gtBoxes) || inp.gtBoxes.length === 0) throw new GflInputError('input.gtBoxes', 'expected an array with one Float32Array of G × 4 boxes per image');
  const B = inp.gtBoxes.length;
  if (!Array.isArray(inp.gtLabels) || inp.gtLabels.length !== B) throw new GflInputError('input.gtLabels', `expected an array with one Int32Array of labels per image (${B})`);
  const numGts = new Int32Array(B);
  let total = 0;
  inp.gtBoxes.forEach((b: unknown, i: number) => {
    if (!(b instanceof Float32Array) || b.length % 4 !== 0) throw new GflInputError(`input.gtBoxes[${i}]`, 'expected a Float32Array of G × 4 boxes');
    numGts[i] = b.length / 4;
    total += numGts[i];
  });
  const gtBboxes = new Float32Array(total * 4), gtLabels = new Int32Array(total);
  let off = 0;
  for (let i = 0; i < B; i++) {
    const l = inp.gtLabels[i];
    if (!(l instanceof Int32Array) || l.length !== numGts[i]) throw new GflInputError(`input.gtLabels[${i}]`, `expected an Int32Array of ${numGts[i]} labels`);
    gtBboxes.set(inp.gtBoxes[i] as Float32Array, off * 4);
    gtLabels.set(l, off);
    off += numGts[i];
  }
  const strides = strideList('input.strides', inp.strides, GFL_STRIDES);
  const sz = inp.imageSize;
  let pads: Array<[number, number]>;
  if (Array.isArray(sz) && sz.length === 2 && typeof sz[0] === 'number') pads = Array.from({ length: B }, () => [sz[0] as number, sz[1] as number]);
  else if (Array.isArray(sz) && sz.length === B) pads = featmapList('input.imageSize', sz, B);
  else throw new GflInputError('input.imageSize', `expected [H, W] or one [H, W] per image (${B})`);
  const batch: [number, number] = [Math.max(...pads.map((p) => p[0])), Math.max(...pads.map((p) => p[1]))];
  const sizes = o.featmapSizes === undefined ? featmapSizesFor(batch, strides) : featmapList('options.featmapSizes', o.featmapSizes, strides.length);
  const perImage = sizes.reduce((s, [h, w]) => s + h * w, 0);
  const N = B * perImage;
  const bins = o.bins === undefined ? 17 : positiveInt('options.bins', o.bins, 2);
  if (!(inp.clsLogits instanceof Float32Array) || inp.clsLogits.length === 0 || inp.clsLogits.length % N !== 0) {
    throw new GflInputError('input.clsLogits', `expected a Float32Array of ${N} × C logits (${B} images × ${perImage} anchors)`);
  }
  const C = inp.clsLogits.length / N;
  if (o.numClasses !== undefined && positiveInt('options.numClasses', o.numClasses) !== C) throw new GflInputError('options.numClasses', `clsLogits holds ${C} classes per row`);
  if (!(inp.regLogits instanceof Float32Array) || inp.regLogits.length !== N * 4 * bins) {
    throw new GflInputError('input.regLogits', `expected a Float32Array of ${N} × ${4 * bins} logits`);
  }
  const topk = o.topk === undefined ? 9 : positiveInt('options.topk', o.topk);
  const wantTargets = o.returnTargets === undefined ? false : bool('options.returnTargets', o.returnTargets);

  const plan = atssPlan({ gtBboxes, gtLabels, numGts }, { numClasses: C, padShape: pads, strides, featmapSizes: sizes, topk });
  const gen = plan.gen;
  if (plan.N !== perImage) throw new Error(`internal: ${plan.N} GFL anchors per image, ${perImage} rows per image`);
  // image-major (b, n) → level-major (l, b, y, x)
  const key = `${B}|${C}|${sizes.join(';')}|${strides.join(',')}`;
  const lay = cache.get(key, () => {
    const rowOf = new Int32Array(N), anchors = new Float32Array(N * 4), stride = new Float32Array(N);
    let row = 0, lvlStart = 0;
    sizes.forEach(([h, w]) => {
      for (let b = 0; b < B; b++) {
        for (let k = 0; k < h * w; k++, row++) {
          const n = lvlStart + k;
          rowOf[b * perImage + n] = row;
          anchors.set(gen.anchors.subarray(n * 4, n * 4 + 4), row * 4);
          stride[row] = gen.strides[n];
        }
      }
      lvlStart += h * w;
    });
    return { key, anchors, stride, rowOf, labels: new Int32Array(N), labelWeights: new Float32Array(N), bboxTargets: new Float32Array(N * 4) };
  });
  const t = yield* atssTargetsInto(rt, plan, {
    rowOf: lay.rowOf, labels: lay.labels, labelWeights: lay.labelWeights, bboxTargets: lay.bboxTargets, images: false,
  });
  const head = yield* gflHeadLoss(rt, {
    clsScore: inp.clsLogits as Float32Array, bboxPred: inp.regLogits as Float32Array, anchors: lay.anchors, stride: lay.stride,
    labels: lay.labels, labelWeights: lay.labelWeights, bboxTargets: lay.bboxTargets,
  }, {
    numClasses: C, bins, numImages: B, levels: sizes, avgFactor: t.avgFactor,
    ...(o.beta !== undefined ? { beta: o.beta as number } : {}),
    ...(o.lossWeight !== undefined ? { lossWeight: o.lossWeight as GflStepOptions['lossWeight'] } : {}),
    ...(o.grad !== undefined ? { grad: o.grad as boolean } : {}),
    ...(o.out !== undefined ? { out: o.out as GflStepOptions['out'] } : {}),
  });
  const res: GflStepResult = { ...head, avgFactor: t.avgFactor, numPos: t.numPos };
  if (wantTargets) res.targets = { labels: lay.labels.slice(), labelWeights: lay.labelWeights.slice(), bboxTargets: lay.bboxTargets.slice() };
  return res;
}
