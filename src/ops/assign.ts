// Target assignment in WASM:
//   ATSS: mmdetection v3.1 ATSSAssigner (topk 9) with GFLHead.get_targets around it (PseudoSampler, allowed_border
//   −1): `atssAssign` for one image's anchors, `atssTargets` for a batch from the gt boxes and the image shapes.
//   Task-aligned: ultralytics 8.3 TaskAlignedAssigner (topk 10, α 0.5, β 6, eps 1e-9), `taskAlignedAssign`.
// Tie rule (both): where torch.topk meets exactly equal keys at its boundary (equal centre distances for ATSS, equal
// alignment metrics for TAL), the lower anchor index is taken. torch leaves this to libstdc++'s nth_element /
// partial_sort, so a case with such a tie can differ from upstream; everything else is tie-free or follows
// upstream's documented first-index rules (highest IoU, then lowest gt index; argmax of CIoU over all gts).
import { GflInputError } from '../errors.js';
import { kernelCall, type WasmRuntime, type Op } from '../wasm/runtime.js';
import { plainObject, knownKeys, finiteNumber, positiveInt, bool, rowsOf, f32Array } from '../validate.js';
import { once, i32At, u8At, f32At, intArray, noNaN } from './nms.js';
import { gflAnchors, anchorValidFlags, featmapList, featmapSizesFor, strideList, GFL_STRIDES } from './anchors.js';

// ---------------------------------------------------------------------------------------------
// ATSS

export interface AtssAssignInput {
  /** N × 4 xyxy, level-major. */
  anchors: Float32Array;
  /** Anchors per level (sums to N). */
  numLevelAnchors: Int32Array | readonly number[];
  /** G × 4 xyxy. */
  gtBboxes: Float32Array;
  /** G class indices (optional: assignedLabels then absent). */
  gtLabels?: Int32Array;
}

export interface AtssOptions {
  /** Candidates per level; default 9. */
  topk?: number;
  /** Also return IoUs, centre distances, per-gt statistics and candidate / positive masks. */
  intermediates?: boolean;
}

export interface AtssIntermediates {
  /** N × G IoU (bbox_overlaps, eps 1e-6). */
  overlaps: Float32Array;
  /** N × G centre distances. */
  distances: Float32Array;
  /** N × G: 1 where the anchor is one of the gt's candidates. */
  isCandidate: Uint8Array;
  /** N × G: 1 where the anchor is positive for the gt (before the one-gt-per-anchor rule). */
  isPos: Uint8Array;
  /** G each: mean, unbiased std and mean + std of the candidates' IoUs. */
  overlapsMean: Float32Array;
  overlapsStd: Float32Array;
  overlapsThr: Float32Array;
}

export interface AtssAssignResult {
  /** N, 1-based gt index, 0 = negative (AssignResult.gt_inds). */
  assignedGtInds: Int32Array;
  /** N: IoU with the assigned gt; −1e8 for the others when there are gts, all 0 when there are none. */
  maxOverlaps: Float32Array;
  /** N: gt label of positives, −1 for negatives (only with gtLabels). */
  assignedLabels?: Int32Array;
  /** Ascending indices of the positive anchors. */
  posInds: Int32Array;
  intermediates?: AtssIntermediates;
}

interface AtssProblem { anchors: Float32Array; levels: Int32Array; gts: Float32Array; labels?: Int32Array }

/** Bytes of the ATSS kernel's per-image scratch (`soa`): seven rows of n floats, then 16 bytes per block of 64 anchors. */
function atssScratchBytes(n: number, numLevels: number): number {
  return 28 * n + 16 * ((n >> 6) + numLevels);
}

function atssBuffers(f: ReturnType<WasmRuntime['frame']>, n: number, g: number, numLevels: number, topk: number) {
  return {
    overlaps: f.reserve(n * g * 4), distances: f.reserve(n * g * 4), cand: f.reserve(n * g), pos: f.reserve(n * g),
    stats: f.reserve(3 * g * 4), candIdx: f.reserve(numLevels * topk * 4), candD: f.reserve(topk * 8),
    assigned: f.reserve(n * 4), maxOv: f.reserve(n * 4), soa: f.reserve(atssScratchBytes(n, numLevels)),
  };
}

/** rows × cols → cols × rows */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

function checkBoxes(name: string, a: Float32Array): void {
  for (let i = 0; i < a.length; i += 4) {
    for (let k = 0; k < 4; k++) if (!Number.isFinite(a[i + k])) throw new GflInputError(name, `expected finite coordinates, got ${a[i + k]} at index ${i + k}`);
  }
}

/** Stages nothing: runs the kernel on a staged problem; the 0-based gt of each anchor (−1: negative) stays in `buf.assigned`. */
function* atssKernel(
  rt: WasmRuntime, ptr: { anchors: number; levels: number; gts: number }, n: number, g: number, L: number, topk: number,
  buf: ReturnType<typeof atssBuffers>, inter: boolean,
): Op<Int32Array> {
  yield once('atssAssign', [ptr.anchors, n, ptr.levels, L, ptr.gts, g, topk, buf.overlaps, buf.distances,
    inter ? buf.cand : 0, inter ? buf.pos : 0, buf.stats, buf.candIdx, buf.candD, buf.assigned, buf.maxOv, buf.soa]);
  return i32At(rt, buf.assigned, n);
}

/** The AssignResult of one image from the kernel's assigned gt (0-based, −1 negative) and max IoU per anchor. */
function assignResult(assigned: Int32Array, maxOv: Float32Array, labels: Int32Array | undefined): AtssAssignResult {
  const n = assigned.length;
  const assignedGtInds = new Int32Array(n);
  const pos: number[] = [];
  for (let i = 0; i < n; i++) {
    assignedGtInds[i] = assigned[i] + 1;
    if (assigned[i] >= 0) pos.push(i);
  }
  const res: AtssAssignResult = { assignedGtInds, maxOverlaps: maxOv.slice(), posInds: Int32Array.from(pos) };
  if (labels) {
    const lab = new Int32Array(n).fill(-1);
    for (const i of pos) lab[i] = labels[assigned[i]];
    res.assignedLabels = lab;
  }
  return res;
}

/** Runs the kernel on a staged problem; reads the results back. */
function* atssRun(
  rt: WasmRuntime, ptr: { anchors: number; levels: number; gts: number }, p: AtssProblem, topk: number,
  buf: ReturnType<typeof atssBuffers>, inter: boolean,
): Op<AtssAssignResult> {
  const n = p.anchors.length / 4, g = p.gts.length / 4, L = p.levels.length;
  const assigned = yield* atssKernel(rt, ptr, n, g, L, topk, buf, inter);
  const res = assignResult(assigned, f32At(rt, buf.maxOv, n), p.labels);
  if (inter && g > 0) {
    const stats = f32At(rt, buf.stats, 3 * g);
    res.intermediates = {
      overlaps: transpose(f32At(rt, buf.overlaps, n * g), g, n), distances: transpose(f32At(rt, buf.distances, n * g), g, n),
      isCandidate: u8At(rt, buf.cand, n * g).slice(), isPos: u8At(rt, buf.pos, n * g).slice(),
      overlapsMean: stats.slice(0, g), overlapsStd: stats.slice(g, 2 * g), overlapsThr: stats.slice(2 * g),
    };
  }
  return res;
}

function atssOptions(o: Record<string, unknown>): { topk: number; inter: boolean } {
  return {
    topk: o.topk === undefined ? 9 : positiveInt('options.topk', o.topk),
    inter: o.intermediates === undefined ? false : bool('options.intermediates', o.intermediates),
  };
}

export function* atssAssign(rt: WasmRuntime, input: AtssAssignInput, options?: AtssOptions): Op<AtssAssignResult> {
  const inp = plainObject('input', input);
  const o = plainObject('options', options);
  knownKeys('options', o, ['topk', 'intermediates']);
  const { topk, inter } = atssOptions(o);
  const n = rowsOf('input.anchors', inp.anchors, 4, 'N × 4 anchors (x1, y1, x2, y2)');
  const anchors = inp.anchors as Float32Array;
  checkBoxes('input.anchors', anchors);
  const nl = inp.numLevelAnchors;
  if (!(nl instanceof Int32Array) && !Array.isArray(nl)) throw new GflInputError('input.numLevelAnchors', 'expected an Int32Array or array of anchor counts per level');
  const levels = Int32Array.from(nl as ArrayLike<number>);
  let sum = 0;
  levels.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 0) throw new GflInputError('input.numLevelAnchors', `expected non-negative counts, got ${v} at index ${i}`);
    sum += v;
  });
  if (sum !== n) throw new GflInputError('input.numLevelAnchors', `expected counts summing to ${n} anchors, got ${sum}`);
  const g = rowsOf('input.gtBboxes', inp.gtBboxes, 4, 'G × 4 gt boxes (x1, y1, x2, y2)');
  const gts = inp.gtBboxes as Float32Array;
  checkBoxes('input.gtBboxes', gts);
  const labels = inp.gtLabels === undefined ? undefined : intArray('input.gtLabels', inp.gtLabels, g, 0);
  const f = rt.frame();
  const ptr = { anchors: f.input(anchors), levels: f.input(levels), gts: f.input(gts.length ? gts : new Float32Array(4)) };
  const buf = atssBuffers(f, n, g, levels.length, topk);
  f.ready();
  return yield* atssRun(rt, ptr, { anchors, levels, gts, labels }, topk, buf, inter);
}

export interface AtssTargetsInput {
  /** ΣG × 4 gt boxes of all images, concatenated in image order. */
  gtBboxes: Float32Array;
  /** ΣG labels in [0, numClasses). */
  gtLabels: Int32Array;
  /** B: how many of the rows belong to each image. */
  numGts: Int32Array | readonly number[];
}

export interface AtssTargetsOptions {
  numClasses: number;
  /** [H, W] per image (the padded input each image's valid anchors come from), or one [H, W] for all. */
  padShape: readonly [number, number] | ReadonlyArray<readonly [number, number]>;
  /** Default [8, 16, 32, 64, 128]. */
  strides?: readonly number[];
  /** Default ceil(max padShape / stride) per level. */
  featmapSizes?: ReadonlyArray<readonly [number, number]>;
  topk?: number;
  /** GFL anchor generator settings (defaults 8, 1, [1], 0). */
  octaveBaseScale?: number;
  scalesPerOctave?: number;
  ratios?: readonly number[];
  centerOffset?: number;
  intermediates?: boolean;
}

export interface AtssImageResult extends AtssAssignResult {
  /** Valid anchors per level for this image. */
  numLevelAnchorsInside: Int32Array;
  /** max(num_pos, 1). */
  avgFactor: number;
}

export interface AtssTargetsResult {
  /** N × 4 anchors, level-major then y, x. */
  anchors: Float32Array;
  numLevelAnchors: Int32Array;
  /** Stride of each anchor (N). */
  anchorStrides: Float32Array;
  /** B × N (1 = valid / inside anchor). */
  validFlags: Uint8Array;
  /** B × N class index, numClasses = background. */
  labels: Int32Array;
  /** B × N: 1 for valid anchors. */
  labelWeights: Float32Array;
  /** B × N × 4: the assigned gt box, else 0. */
  bboxTargets: Float32Array;
  /** B × N × 4: 1 for positives. */
  bboxWeights: Float32Array;
  /** Σ_b max(num_pos_b, 1). */
  avgFactor: number;
  /** Per image, in the index space of its valid anchors. */
  images: AtssImageResult[];
}

let lastAnchors: { key: string; gen: ReturnType<typeof gflAnchors> } | undefined;
let lastIdentity = new Int32Array(0);

/**
 * Where atssTargets writes its per-anchor targets: `rowOf[b·N + n]` is the output row of image b's anchor n (absent:
 * row b·N + n). The arrays are written in full (negatives and invalid anchors included) on every call. Without
 * `images`, the per-image results are reduced to what a training step needs (no per-anchor arrays are allocated).
 */
export interface AtssSink {
  rowOf?: Int32Array;
  labels: Int32Array;
  labelWeights: Float32Array;
  bboxTargets: Float32Array;
  bboxWeights?: Float32Array;
  validFlags?: Uint8Array;
  images: boolean;
}

export interface AtssCoreResult {
  anchors: ReturnType<typeof gflAnchors>;
  avgFactor: number;
  numPos: number;
  images: AtssImageResult[];
}

/** Validates the problem; returns the batch size and anchor count that a sink must be sized for, and the rest. */
export function atssPlan(input: AtssTargetsInput, options: AtssTargetsOptions) {
  const inp = plainObject('input', input);
  const o = plainObject('options', options);
  knownKeys('options', o, ['numClasses', 'padShape', 'strides', 'featmapSizes', 'topk', 'octaveBaseScale', 'scalesPerOctave', 'ratios', 'centerOffset', 'intermediates']);
  const { topk, inter } = atssOptions(o);
  const numClasses = positiveInt('options.numClasses', o.numClasses);
  const numGtsRaw = inp.numGts;
  if (!(numGtsRaw instanceof Int32Array) && !Array.isArray(numGtsRaw)) throw new GflInputError('input.numGts', 'expected an Int32Array or array with the gt count of each image');
  const numGts = Int32Array.from(numGtsRaw as ArrayLike<number>);
  const B = numGts.length;
  if (B === 0) throw new GflInputError('input.numGts', 'expected at least one image');
  let totalG = 0;
  numGts.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 0) throw new GflInputError('input.numGts', `expected non-negative counts, got ${v} at index ${i}`);
    totalG += v;
  });
  const gts = f32Array('input.gtBboxes', inp.gtBboxes, totalG * 4);
  checkBoxes('input.gtBboxes', gts);
  const labels = intArray('input.gtLabels', inp.gtLabels, totalG, 0, numClasses - 1);
  const ps = o.padShape;
  let pads: Array<[number, number]>;
  if (Array.isArray(ps) && ps.length === 2 && typeof ps[0] === 'number') pads = Array.from({ length: B }, () => [ps[0] as number, ps[1] as number]);
  else if (Array.isArray(ps) && ps.length === B) pads = featmapList('options.padShape', ps, B);
  else throw new GflInputError('options.padShape', `expected [H, W] or one [H, W] per image (${B})`);
  pads.forEach(([h, w], i) => { if (!(h > 0 && w > 0)) throw new GflInputError(`options.padShape`, `expected positive sizes, got [${h}, ${w}] for image ${i}`); });
  const strides = strideList('options.strides', o.strides, GFL_STRIDES);
  const batchShape: [number, number] = [Math.max(...pads.map((p) => p[0])), Math.max(...pads.map((p) => p[1]))];
  const sizes = o.featmapSizes === undefined ? featmapSizesFor(batchShape, strides) : featmapList('options.featmapSizes', o.featmapSizes, strides.length);
  const anchorOpts = {
    featmapSizes: sizes, strides,
    ...(o.octaveBaseScale !== undefined ? { octaveBaseScale: o.octaveBaseScale as number } : {}),
    ...(o.scalesPerOctave !== undefined ? { scalesPerOctave: o.scalesPerOctave as number } : {}),
    ...(o.ratios !== undefined ? { ratios: o.ratios as number[] } : {}),
    ...(o.centerOffset !== undefined ? { centerOffset: o.centerOffset as number } : {}),
  };
  // a training loop asks for the same anchors every step: keep the last set (callers get their own copies)
  const anchorKey = JSON.stringify(anchorOpts);
  if (lastAnchors?.key !== anchorKey) lastAnchors = { key: anchorKey, gen: gflAnchors(anchorOpts) };
  const gen = lastAnchors.gen;
  return { B, N: gen.anchors.length / 4, gen, numGts, gts, labels, pads, strides, sizes, topk, inter, numClasses };
}

/** ATSS targets of a planned batch, written through `sink`. */
export function* atssTargetsInto(rt: WasmRuntime, plan: ReturnType<typeof atssPlan>, sink: AtssSink): Op<AtssCoreResult> {
  const { B, N, gen, numGts, gts, labels, pads, strides, sizes, topk, inter, numClasses } = plan;
  const L = sizes.length;
  const maxG = Math.max(1, ...Array.from(numGts));
  const { labels: labelsOut, labelWeights, bboxTargets, bboxWeights, validFlags } = sink;
  /** Background labels, zero boxes, and `weight` for every row (1 when every anchor is valid). */
  const resetTargets = (weight: number) => {
    labelsOut.fill(numClasses);
    labelWeights.fill(weight);
    bboxTargets.fill(0);
    bboxWeights?.fill(0);
  };

  // a pad shape that covers every feature map makes every anchor of the image valid
  const full = pads.map((p) => sizes.every(([fh, fw], l) => Math.ceil(p[0] / strides[l]) >= fh && Math.ceil(p[1] / strides[l]) >= fw));
  // stage: the full anchor set once; per image only the valid anchors when some are not (smaller pad shape)
  const f = rt.frame();
  const anchorsPtr = f.input(gen.anchors);
  const gtsPtr = f.input(gts.length ? gts : new Float32Array(4));
  const levelsPtr = f.input(gen.numLevelAnchors);
  // every image valid everywhere and no intermediates: all images in one call, one image per block (the thread pool
  // assigns images in parallel); otherwise image by image
  const batched = !inter && full.every((v) => v);
  const batch = batched ? {
    gts: f.floats(B * maxG * 4), counts: f.reserve(B * 4), stats: f.floats(B * 3 * maxG), cand: f.reserve(B * L * topk * 4),
    candD: f.floats(B * 2 * topk), assigned: f.reserve(B * N * 4), maxOv: f.floats(B * N), soa: f.reserve(B * atssScratchBytes(N, L)),
  } : undefined;
  const compactPtr = batched ? 0 : f.reserve(N * 16);
  const buf = batched ? undefined : atssBuffers(f, N, maxG, L, topk);
  const levelsInsidePtr = batched ? 0 : f.reserve(L * 4);
  f.ready();
  if (batch) {
    const padded = f32At(rt, batch.gts, B * maxG * 4);
    padded.fill(0);
    for (let b = 0, off = 0; b < B; off += numGts[b++]) padded.set(gts.subarray(off * 4, (off + numGts[b]) * 4), b * maxG * 4);
    i32At(rt, batch.counts, B).set(numGts);
    const call = kernelCall('atssAssignBatch',
      [anchorsPtr, N, levelsPtr, L, batch.gts, batch.counts, maxG, topk, batch.stats, batch.cand, batch.candD, batch.assigned, batch.maxOv, batch.soa, B],
      [0, 0, 0, 0, maxG * 16, 4, 0, 0, maxG * 12, L * topk * 4, topk * 8, N * 4, N * 4, atssScratchBytes(N, L), 'rows'], B, N);
    call.rowsPerBlock = 1;
    // every anchor of every image is valid: the targets' defaults are written while the images are assigned
    call.sideWork = () => {
      resetTargets(1);
      validFlags?.fill(1);
    };
    yield call;
  } else resetTargets(0);

  const images: AtssImageResult[] = [];
  let avgFactor = 0, gOff = 0, numPosAll = 0;
  if (lastIdentity.length !== N) lastIdentity = Int32Array.from({ length: N }, (_, i) => i);
  const identity = lastIdentity;
  for (let b = 0; b < B; b++) {
    let inside: Int32Array;
    let levelsInside: Int32Array;
    if (full[b]) {
      if (!batch) validFlags?.fill(1, b * N, (b + 1) * N);
      inside = identity;
      levelsInside = gen.numLevelAnchors;
    } else {
      const flags = anchorValidFlags(sizes, strides, pads[b], gen.anchorsPerLocation);
      validFlags?.set(flags, b * N);
      const list: number[] = [];
      levelsInside = new Int32Array(L);
      let row = 0;
      for (let l = 0; l < L; l++) {
        for (let k = 0; k < gen.numLevelAnchors[l]; k++, row++) if (flags[row]) { list.push(row); levelsInside[l]++; }
      }
      inside = Int32Array.from(list);
    }
    if (inside.length === 0) throw new GflInputError('options.padShape', `image ${b} has no valid anchor`);
    const g = numGts[b];
    const imgGts = gts.subarray(gOff * 4, (gOff + g) * 4), imgLabels = labels.subarray(gOff, gOff + g);
    let assigned: Int32Array;
    let r: AtssAssignResult | undefined;
    if (batch) {
      assigned = i32At(rt, batch.assigned + b * N * 4, N);
      if (sink.images) r = assignResult(assigned, f32At(rt, batch.maxOv + b * N * 4, N), imgLabels);
    } else {
      const all = inside.length === N;
      let anchors = gen.anchors;
      if (!all) {
        anchors = new Float32Array(inside.length * 4);
        inside.forEach((row, t) => anchors.set(gen.anchors.subarray(row * 4, row * 4 + 4), t * 4));
        f32At(rt, compactPtr, anchors.length).set(anchors);
      }
      i32At(rt, levelsInsidePtr, L).set(levelsInside);
      const ptr = { anchors: all ? anchorsPtr : compactPtr, levels: levelsInsidePtr, gts: gtsPtr + gOff * 16 };
      if (sink.images) {
        r = yield* atssRun(rt, ptr, { anchors, levels: levelsInside, gts: imgGts, labels: imgLabels }, topk, buf!, inter);
        assigned = i32At(rt, buf!.assigned, inside.length);
      } else {
        assigned = yield* atssKernel(rt, ptr, inside.length, g, L, topk, buf!, false);
      }
    }
    if (r) images.push({ ...r, numLevelAnchorsInside: levelsInside.slice(), avgFactor: Math.max(r.posInds.length, 1) });
    // batched: every row's weight is 1 already (the call's side work)
    const numPos = writeImageTargets(sink, b * N, inside, assigned, imgLabels, imgGts, !batch);
    numPosAll += numPos;
    avgFactor += Math.max(numPos, 1);
    gOff += g;
  }
  return { anchors: gen, avgFactor, numPos: numPosAll, images };
}

/**
 * One image's targets into the sink, at rows rowOf[base + inside[t]] (or base + inside[t]): label and box of the
 * assigned gt, and with `weights` a label weight of 1 for every valid anchor. Returns the image's positives. (A plain
 * function: V8 runs these loops several times slower inside the generator.)
 */
function writeImageTargets(
  sink: AtssSink, base: number, inside: Int32Array, assigned: Int32Array, imgLabels: Int32Array, imgGts: Float32Array,
  weights: boolean,
): number {
  const { rowOf, labels: labelsOut, labelWeights, bboxTargets, bboxWeights } = sink;
  if (weights) {
    if (rowOf) for (let t = 0; t < inside.length; t++) labelWeights[rowOf[base + inside[t]]] = 1;
    else for (let t = 0; t < inside.length; t++) labelWeights[base + inside[t]] = 1;
  }
  let numPos = 0;
  for (let t = 0; t < inside.length; t++) {
    const gi = assigned[t];
    if (gi < 0) continue;
    numPos++;
    const src = base + inside[t];
    const row = rowOf ? rowOf[src] : src;
    labelsOut[row] = imgLabels[gi];
    for (let c = 0; c < 4; c++) bboxTargets[row * 4 + c] = imgGts[gi * 4 + c];
    bboxWeights?.fill(1, row * 4, row * 4 + 4);
  }
  return numPos;
}

export function* atssTargets(rt: WasmRuntime, input: AtssTargetsInput, options: AtssTargetsOptions): Op<AtssTargetsResult> {
  const plan = atssPlan(input, options);
  const { B, N, gen } = plan;
  const sink = {
    labels: new Int32Array(B * N), labelWeights: new Float32Array(B * N), bboxTargets: new Float32Array(B * N * 4),
    bboxWeights: new Float32Array(B * N * 4), validFlags: new Uint8Array(B * N), images: true,
  };
  const r = yield* atssTargetsInto(rt, plan, sink);
  return {
    anchors: gen.anchors.slice(), numLevelAnchors: gen.numLevelAnchors.slice(), anchorStrides: gen.strides.slice(),
    validFlags: sink.validFlags, labels: sink.labels, labelWeights: sink.labelWeights, bboxTargets: sink.bboxTargets,
    bboxWeights: sink.bboxWeights, avgFactor: r.avgFactor, images: r.images,
  };
}

// ---------------------------------------------------------------------------------------------
// task-aligned

export interface TalInput {
  /** B × A × nc class probabilities (sigmoid of the logits). */
  pdScores: Float32Array;
  /** B × A × 4 predicted boxes, xyxy pixels. */
  pdBboxes: Float32Array;
  /** A × 2 anchor points in pixels (make_anchors points × stride). */
  anchorPoints: Float32Array;
  /** B × M gt classes (integers; float storage as upstream is accepted). */
  gtLabels: Int32Array | Float32Array;
  /** B × M × 4 gt boxes, xyxy pixels; padding rows 0. */
  gtBboxes: Float32Array;
  /** B × M: 1 real gt, 0 padding. Default: box sum > 0 (what v8DetectionLoss passes). */
  maskGt?: Float32Array | Int32Array | Uint8Array;
}

export interface TalOptions {
  /** nc; default from pdScores. */
  numClasses?: number;
  topk?: number;
  alpha?: number;
  beta?: number;
  eps?: number;
  /** Also return the (B × M × A) masks and metrics and the normalised metric. */
  intermediates?: boolean;
}

export interface TalIntermediates {
  maskInGts: Float32Array;
  /** score^α · overlaps^β before masking by the positives. */
  alignMetric: Float32Array;
  /** CIoU clamped at 0, only inside real gts. */
  overlaps: Float32Array;
  maskPosBeforeHighest: Float32Array;
  maskPos: Float32Array;
  /** B × A. */
  normAlignMetric: Float32Array;
}

export interface TalResult {
  /** B × A class; background anchors carry gt 0's label (upstream), numClasses when M = 0. */
  targetLabels: Int32Array;
  /** B × A × 4. */
  targetBboxes: Float32Array;
  /** B × A × nc: one-hot × normalised alignment metric. */
  targetScores: Float32Array;
  /** B × A: 1 foreground. */
  fgMask: Uint8Array;
  /** B × A gt index (0 for background). */
  targetGtIdx: Int32Array;
  /** Number of foreground anchors over the batch. */
  numFg: number;
  intermediates?: TalIntermediates;
}

/** target_scores = one_hot(label) · norm on the foreground rows, zero elsewhere (`out` holds zeros). */
function oneHotScores(fg: Uint8Array, labels: Int32Array, norm: Float32Array, nc: number, out: Float32Array): void {
  for (let i = 0; i < fg.length; i++) if (fg[i]) out[i * nc + labels[i]] = norm[i];
}

/** At most this many blocks (concurrent images) in a task-aligned call: a bound on its scratch, whatever the batch. */
const TAL_BLOCKS = 8;

/** Bytes of the task-aligned kernel's scratch (scratchBytes in assembly/tal.ts), reused image after image. */
function talScratchBytes(a: number, m: number, topk: number): number {
  return Math.ceil((m * a * 11 + topk * 8 + m * topk * 8) / 16) * 16;
}

export function* taskAlignedAssign(rt: WasmRuntime, input: TalInput, options?: TalOptions): Op<TalResult> {
  const inp = plainObject('input', input);
  const o = plainObject('options', options);
  knownKeys('options', o, ['numClasses', 'topk', 'alpha', 'beta', 'eps', 'intermediates']);
  const A = rowsOf('input.anchorPoints', inp.anchorPoints, 2, 'A × 2 anchor points');
  if (A === 0) throw new GflInputError('input.anchorPoints', 'expected at least one anchor point');
  const points = inp.anchorPoints as Float32Array;
  noNaN('input.anchorPoints', points);
  const nBox = rowsOf('input.pdBboxes', inp.pdBboxes, 4 * A, `B × ${A} × 4 predicted boxes`);
  const B = nBox;
  if (B === 0) throw new GflInputError('input.pdBboxes', 'expected at least one image');
  const pd = inp.pdBboxes as Float32Array;
  const sc = inp.pdScores;
  if (!(sc instanceof Float32Array) || sc.length % (B * A) !== 0 || sc.length === 0) throw new GflInputError('input.pdScores', `expected a Float32Array of ${B} × ${A} × nc probabilities`);
  const nc = sc.length / (B * A);
  if (o.numClasses !== undefined && positiveInt('options.numClasses', o.numClasses) !== nc) throw new GflInputError('options.numClasses', `pdScores holds ${nc} classes per anchor`);
  const topk = o.topk === undefined ? 10 : positiveInt('options.topk', o.topk);
  if (topk > A) throw new GflInputError('options.topk', `expected at most the ${A} anchors (torch.topk would fail)`);
  const alpha = o.alpha === undefined ? 0.5 : finiteNumber('options.alpha', o.alpha, { min: 0 });
  const beta = o.beta === undefined ? 6 : finiteNumber('options.beta', o.beta, { min: 0 });
  const eps = o.eps === undefined ? 1e-9 : finiteNumber('options.eps', o.eps, { min: 0 });
  const inter = o.intermediates === undefined ? false : bool('options.intermediates', o.intermediates);
  const gb = rowsOf('input.gtBboxes', inp.gtBboxes, 4 * B, `${B} × M × 4 gt boxes`);
  const M = gb;
  const gts = inp.gtBboxes as Float32Array;
  checkBoxes('input.gtBboxes', gts);
  const labels = intArray('input.gtLabels', inp.gtLabels, B * M, 0, nc - 1);
  let mask: Int32Array;
  if (inp.maskGt === undefined) {
    mask = new Int32Array(B * M);
    for (let i = 0; i < B * M; i++) mask[i] = Math.fround(Math.fround(Math.fround(gts[i * 4] + gts[i * 4 + 1]) + gts[i * 4 + 2]) + gts[i * 4 + 3]) > 0 ? 1 : 0;
  } else {
    mask = intArray('input.maskGt', inp.maskGt, B * M, 0, 1);
  }
  // pdScores (B·A·nc) are not scanned, as the losses do not scan logits: that would cost as much as the assignment
  noNaN('input.pdBboxes', pd);

  const targetLabels = new Int32Array(B * A), targetGtIdx = new Int32Array(B * A), fgMask = new Uint8Array(B * A);
  const targetBboxes = new Float32Array(B * A * 4), targetScores = new Float32Array(B * A * nc);
  if (M === 0) {
    // upstream's early return for batches without gts (num_classes as the label, everything else 0)
    targetLabels.fill(nc);
    const res: TalResult = { targetLabels, targetBboxes, targetScores, fgMask, targetGtIdx, numFg: 0 };
    if (inter) res.intermediates = { maskInGts: new Float32Array(0), alignMetric: new Float32Array(0), overlaps: new Float32Array(0), maskPosBeforeHighest: new Float32Array(0), maskPos: new Float32Array(0), normAlignMetric: new Float32Array(B * A) };
    return res;
  }
  // Without intermediates all images go in one call, in at most TAL_BLOCKS blocks of images (the thread pool assigns
  // the blocks in parallel), each block with its own scratch, which its images reuse in turn: the scratch grows with
  // the blocks, not with the batch. With intermediates, image by image through one scratch, read back after each.
  const scratchBytes = talScratchBytes(A, M, topk);
  const perBlock = Math.ceil(B / Math.min(B, TAL_BLOCKS)), blocks = Math.ceil(B / perBlock);
  // per image (the stride the pool advances a block's scratch pointer by), so that a block's images share perBlock × it
  const scratchStride = Math.ceil(scratchBytes / perBlock / 16) * 16;
  const f = rt.frame();
  const p = {
    scores: f.input(sc), pred: f.input(pd), points: f.input(points), labels: f.input(labels), gts: f.input(gts), mask: f.input(mask),
    scratch: f.reserve(inter ? scratchBytes : blocks * perBlock * scratchStride),
    tLabels: f.reserve(B * A * 4), tIdx: f.reserve(B * A * 4), fg: f.reserve(B * A * 4), tBoxes: f.reserve(B * A * 16),
    norm: f.reserve(B * A * 4),
  };
  f.ready();
  const args = (b: number, rows: number) => [
    p.scores + b * A * nc * 4, p.pred + b * A * 16, p.points, p.labels + b * M * 4, p.gts + b * M * 16, p.mask + b * M * 4, A, M, nc,
    topk, alpha, beta, eps, p.scratch, p.tLabels + b * A * 4, p.tIdx + b * A * 4, p.fg + b * A * 4, p.tBoxes + b * A * 16,
    p.norm + b * A * 4, rows,
  ];
  let numFg = 0;
  let im: TalIntermediates | undefined;
  if (!inter) {
    const call = kernelCall('talAssign', args(0, B),
      [A * nc * 4, A * 16, 0, M * 4, M * 16, M * 4, 0, 0, 0, 0, 0, 0, 0, scratchStride, A * 4, A * 4, A * 4, A * 16, A * 4, 'rows'],
      B, A * nc);
    call.rowsPerBlock = perBlock;
    numFg = yield call;
  } else {
    im = {
      maskInGts: new Float32Array(B * M * A), alignMetric: new Float32Array(B * M * A), overlaps: new Float32Array(B * M * A),
      maskPosBeforeHighest: new Float32Array(B * M * A), maskPos: new Float32Array(B * M * A), normAlignMetric: new Float32Array(B * A),
    };
    const ma = M * A;
    for (let b = 0; b < B; b++) {
      numFg += yield once('talAssign', args(b, 1));
      // the scratch layout of assembly/tal.ts: overlaps, align (f32), inGts, posBefore, pos (u8), m × a each
      const off = b * ma;
      im.overlaps.set(f32At(rt, p.scratch, ma), off);
      im.alignMetric.set(f32At(rt, p.scratch + ma * 4, ma), off);
      im.maskInGts.set(u8At(rt, p.scratch + ma * 8, ma), off);
      im.maskPosBeforeHighest.set(u8At(rt, p.scratch + ma * 9, ma), off);
      im.maskPos.set(u8At(rt, p.scratch + ma * 10, ma), off);
    }
    im.normAlignMetric.set(f32At(rt, p.norm, B * A));
  }
  targetLabels.set(i32At(rt, p.tLabels, B * A));
  targetGtIdx.set(i32At(rt, p.tIdx, B * A));
  fgMask.set(i32At(rt, p.fg, B * A));
  targetBboxes.set(f32At(rt, p.tBoxes, B * A * 4));
  // the target scores (B·A·nc, nearly all zero) are built here from fg, labels and norm: no dense copy out of wasm
  oneHotScores(fgMask, targetLabels, f32At(rt, p.norm, B * A), nc, targetScores);
  const res: TalResult = { targetLabels, targetBboxes, targetScores, fgMask, targetGtIdx, numFg };
  if (im) res.intermediates = im;
  return res;
}
