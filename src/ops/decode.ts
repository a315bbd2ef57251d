// Inference in WASM: decode distributions to boxes and score them, then class-aware NMS.
//   gflPredict: mmdetection v3.1 GFLHead.predict_by_feat with its test settings (score_thr 0.05, nms_pre 1000 per
//   level, min_bbox_size 0, batched_nms IoU 0.6, max_per_img 100). The sigmoid class score is the joint
//   classification-IoU score and is used directly as the NMS score (GFL has no centerness).
//   yoloDecode: ultralytics 8.3 Detect._inference (DFL expectation, dist2bbox xywh, · stride, class sigmoid); its
//   output is what yoloNms (non_max_suppression) takes.
import { GflInputError } from '../errors.js';
import type { WasmRuntime, Op } from '../wasm/runtime.js';
import { plainObject, knownKeys, finiteNumber, positiveInt, bool } from '../validate.js';
import { once, i32At, f32At, threshold, noNaN, reserveNms, nmsCall } from './nms.js';
import { gflAnchors, anchorPoints, featmapList, strideList, GFL_STRIDES } from './anchors.js';

const fr = Math.fround;

export interface GflPredictInput {
  /** B × N × C class logits, anchor rows level-major then y, x (cls_score_l.permute(0, 2, 3, 1), concatenated). */
  clsScores: Float32Array;
  /** B × N × 4·bins box-distribution logits ([l bins | t | r | b]). */
  bboxPreds: Float32Array;
}

export interface GflPredictOptions {
  /** [H, W] per level. */
  featmapSizes: ReadonlyArray<readonly [number, number]>;
  /** Default [8, 16, 32, 64, 128]. */
  strides?: readonly number[];
  /** [H, W] the boxes are clamped to, one for all images or one per image. */
  imgShape: readonly [number, number] | ReadonlyArray<readonly [number, number]>;
  /** Number of images; default 1. */
  batchSize?: number;
  /** Bins per side (mmdetection reg_max + 1); default 17. */
  bins?: number;
  /** Default 0.05 (strict >, float32). */
  scoreThr?: number;
  /** Candidates per level before NMS; default 1000 (≤ 0: all). */
  nmsPre?: number;
  /** Boxes with w or h ≤ minBboxSize are dropped before NMS; default 0 (negative: no filter). */
  minBboxSize?: number;
  /** Default 0.6. */
  iouThreshold?: number;
  /** Default 100 (≤ 0: all). */
  maxPerImg?: number;
  /** Also return the candidates before the size filter and NMS, and the NMS keep list before the cut. */
  intermediates?: boolean;
}

export interface GflPredictIntermediates {
  preNmsBboxes: Float32Array; preNmsScores: Float32Array; preNmsLabels: Int32Array; preNmsAnchorIdx: Int32Array;
  nmsInBoxes: Float32Array; nmsInScores: Float32Array; nmsInLabels: Int32Array; nmsBoxesForNms: Float32Array; nmsKeep: Int32Array;
}

export interface GflPredictImage {
  /** K × 4 xyxy, score-descending. */
  bboxes: Float32Array;
  scores: Float32Array;
  labels: Int32Array;
  /** Anchor row of each detection. */
  anchorIdx: Int32Array;
  intermediates?: GflPredictIntermediates;
}

export function* gflPredict(rt: WasmRuntime, input: GflPredictInput, options: GflPredictOptions): Op<GflPredictImage[]> {
  const inp = plainObject('input', input);
  const o = plainObject('options', options);
  knownKeys('options', o, ['featmapSizes', 'strides', 'imgShape', 'batchSize', 'bins', 'scoreThr', 'nmsPre', 'minBboxSize', 'iouThreshold', 'maxPerImg', 'intermediates']);
  const strides = strideList('options.strides', o.strides, GFL_STRIDES);
  const sizes = featmapList('options.featmapSizes', o.featmapSizes, strides.length);
  const gen = gflAnchors({ featmapSizes: sizes, strides });
  const N = gen.anchors.length / 4;
  const B = o.batchSize === undefined ? 1 : positiveInt('options.batchSize', o.batchSize);
  const bins = o.bins === undefined ? 17 : positiveInt('options.bins', o.bins, 2);
  if (!(inp.clsScores instanceof Float32Array) || inp.clsScores.length === 0 || inp.clsScores.length % (B * N) !== 0) {
    throw new GflInputError('input.clsScores', `expected a Float32Array of ${B} × ${N} × C logits`);
  }
  const cls = inp.clsScores;
  const C = cls.length / (B * N);
  if (!(inp.bboxPreds instanceof Float32Array) || inp.bboxPreds.length !== B * N * 4 * bins) {
    throw new GflInputError('input.bboxPreds', `expected a Float32Array of ${B} × ${N} × ${4 * bins} logits`);
  }
  const reg = inp.bboxPreds;
  noNaN('input.clsScores', cls);
  noNaN('input.bboxPreds', reg);
  const shp = o.imgShape;
  let shapes: Array<[number, number]>;
  if (Array.isArray(shp) && shp.length === 2 && typeof shp[0] === 'number') shapes = Array.from({ length: B }, () => [shp[0] as number, shp[1] as number]);
  else if (Array.isArray(shp) && shp.length === B) shapes = featmapList('options.imgShape', shp, B);
  else throw new GflInputError('options.imgShape', `expected [H, W] or one [H, W] per image (${B})`);
  const thr = fr(threshold('options.scoreThr', o.scoreThr, 0.05));
  const nmsPre = o.nmsPre === undefined ? 1000 : Math.trunc(finiteNumber('options.nmsPre', o.nmsPre));
  const minSize = o.minBboxSize === undefined ? 0 : finiteNumber('options.minBboxSize', o.minBboxSize);
  const iou = threshold('options.iouThreshold', o.iouThreshold, 0.6);
  const maxPer = o.maxPerImg === undefined ? 100 : Math.trunc(finiteNumber('options.maxPerImg', o.maxPerImg));
  const inter = o.intermediates === undefined ? false : bool('options.intermediates', o.intermediates);
  // logits below this cannot have a sigmoid above thr: skip their exponentials (a margin covers rounding)
  const floor = thr > 0 && thr < 1 ? Math.log(thr / (1 - thr)) - 1e-3 : thr >= 1 ? Infinity : -Infinity;

  const maxLevel = Math.max(...Array.from(gen.numLevelAnchors)) * C;
  const perLevelCap = Math.min(maxLevel, nmsPre > 0 ? nmsPre : maxLevel);
  const totalCap = Math.max(1, Array.from(gen.numLevelAnchors).reduce((s, n) => s + Math.min(n * C, nmsPre > 0 ? nmsPre : n * C), 0));
  const f = rt.frame();
  const clsPtr = f.input(cls), regPtr = f.input(reg), anchorsPtr = f.input(gen.anchors);
  const s = {
    candFlat: f.reserve(maxLevel * 4), candScore: f.reserve(maxLevel * 4), order: f.reserve(maxLevel * 4), tmp: f.reserve(maxLevel * 4),
    outFlat: f.reserve(perLevelCap * 4), outScore: f.reserve(perLevelCap * 4), rows: f.reserve(perLevelCap * 4), boxes: f.reserve(perLevelCap * 16),
  };
  const nb = reserveNms(f, totalCap);
  f.ready();
  const out: GflPredictImage[] = [];
  for (let b = 0; b < B; b++) {
    const [H, W] = shapes[b];
    const pb: number[] = [], ps: number[] = [], pl: number[] = [], pa: number[] = [];
    let start = 0;
    for (let l = 0; l < sizes.length; l++) {
      const nl = gen.numLevelAnchors[l];
      const k = yield once('gflLevelTopk', [clsPtr + (b * N + start) * C * 4, nl, C, thr, floor, nmsPre,
        s.candFlat, s.candScore, s.order, s.tmp, s.outFlat, s.outScore]);
      const flat = i32At(rt, s.outFlat, k), rows = i32At(rt, s.rows, k);
      for (let t = 0; t < k; t++) rows[t] = start + Math.floor(flat[t] / C);
      yield once('gflDecode', [regPtr + b * N * 4 * bins * 4, bins, anchorsPtr, s.rows, k, strides[l], 1, W, H, s.boxes]);
      const boxes = f32At(rt, s.boxes, k * 4), sc = f32At(rt, s.outScore, k);
      const flat2 = i32At(rt, s.outFlat, k);
      for (let t = 0; t < k; t++) {
        pb.push(boxes[t * 4], boxes[t * 4 + 1], boxes[t * 4 + 2], boxes[t * 4 + 3]);
        ps.push(sc[t]);
        pl.push(flat2[t] % C);
        pa.push(start + Math.floor(flat2[t] / C));
      }
      start += nl;
    }
    // min_bbox_size: keep w > size and h > size (float32 widths)
    const keepIdx: number[] = [];
    for (let t = 0; t < ps.length; t++) {
      if (minSize < 0) { keepIdx.push(t); continue; }
      const w = fr(pb[t * 4 + 2] - pb[t * 4]), h = fr(pb[t * 4 + 3] - pb[t * 4 + 1]);
      if (w > minSize && h > minSize) keepIdx.push(t);
    }
    const m = keepIdx.length;
    const inBoxes = new Float32Array(m * 4), inScores = new Float32Array(m), inLabels = new Int32Array(m), inAnchor = new Int32Array(m);
    keepIdx.forEach((t, r) => {
      inBoxes[r * 4] = pb[t * 4]; inBoxes[r * 4 + 1] = pb[t * 4 + 1]; inBoxes[r * 4 + 2] = pb[t * 4 + 2]; inBoxes[r * 4 + 3] = pb[t * 4 + 3];
      inScores[r] = ps[t]; inLabels[r] = pl[t]; inAnchor[r] = pa[t];
    });
    let keep = new Int32Array(0), forNms = new Float32Array(0);
    if (m > 0) {
      f32At(rt, nb.boxes, m * 4).set(inBoxes);
      f32At(rt, nb.scores, m).set(inScores);
      i32At(rt, nb.labels, m).set(inLabels);
      const cap = inter || maxPer <= 0 ? 0 : maxPer;
      const k = yield nmsCall(nb, m, 1, 0, iou, m >= 10000, 0, cap);
      keep = i32At(rt, nb.keep, k).slice();
      if (inter) forNms = f32At(rt, nb.forNms, m * 4).slice();
    }
    const final = maxPer > 0 ? keep.subarray(0, maxPer) : keep;
    const img: GflPredictImage = {
      bboxes: new Float32Array(final.length * 4), scores: new Float32Array(final.length), labels: new Int32Array(final.length), anchorIdx: new Int32Array(final.length),
    };
    final.forEach((t, r) => {
      img.bboxes.set(inBoxes.subarray(t * 4, t * 4 + 4), r * 4);
      img.scores[r] = inScores[t]; img.labels[r] = inLabels[t]; img.anchorIdx[r] = inAnchor[t];
    });
    if (inter) {
      img.intermediates = {
        preNmsBboxes: Float32Array.from(pb), preNmsScores: Float32Array.from(ps), preNmsLabels: Int32Array.from(pl), preNmsAnchorIdx: Int32Array.from(pa),
        nmsInBoxes: inBoxes, nmsInScores: inScores, nmsInLabels: inLabels, nmsBoxesForNms: forNms, nmsKeep: keep,
      };
    }
    out.push(img);
  }
  return out;
}

export interface YoloDecodeInput {
  /** B × (4·regMax + nc) × A raw Detect output (channel = side·regMax + bin, sides l, t, r, b; then class logits). */
  xCat: Float32Array;
}

export interface YoloDecodeOptions {
  /** [H, W] per level. */
  featShapes: ReadonlyArray<readonly [number, number]>;
  /** Default [8, 16, 32]. */
  strides?: readonly number[];
  /** Bins per side (ultralytics reg_max); default 16. */
  regMax?: number;
  /** Default 1. */
  batchSize?: number;
}

export interface YoloDecodeResult {
  /** B × (4 + nc) × A: cx, cy, w, h in pixels, then class probabilities. */
  prediction: Float32Array;
  /** A × 2 grid points (make_anchors, cell centres in grid units). */
  anchorPoints: Float32Array;
  /** A strides. */
  strides: Float32Array;
  numClasses: number;
}

export function* yoloDecode(rt: WasmRuntime, input: YoloDecodeInput, options: YoloDecodeOptions): Op<YoloDecodeResult> {
  const inp = plainObject('input', input);
  const o = plainObject('options', options);
  knownKeys('options', o, ['featShapes', 'strides', 'regMax', 'batchSize']);
  const ap = anchorPoints({ featShapes: o.featShapes as [number, number][], ...(o.strides !== undefined ? { strides: o.strides as number[] } : {}) });
  const A = ap.strides.length;
  const regMax = o.regMax === undefined ? 16 : positiveInt('options.regMax', o.regMax, 2);
  const B = o.batchSize === undefined ? 1 : positiveInt('options.batchSize', o.batchSize);
  const x = inp.xCat;
  if (!(x instanceof Float32Array) || x.length % (B * A) !== 0 || x.length / (B * A) <= 4 * regMax) {
    throw new GflInputError('input.xCat', `expected a Float32Array of ${B} × (${4 * regMax} + nc) × ${A} values`);
  }
  noNaN('input.xCat', x);
  const no = x.length / (B * A), nc = no - 4 * regMax;
  const f = rt.frame();
  const xp = f.input(x), pp = f.input(ap.points), sp = f.input(ap.strides), out = f.reserve(B * (4 + nc) * A * 4);
  f.ready();
  for (let b = 0; b < B; b++) yield once('yoloDecode', [xp + b * no * A * 4, A, regMax, nc, pp, sp, out + b * (4 + nc) * A * 4]);
  return { prediction: f32At(rt, out, B * (4 + nc) * A).slice(), anchorPoints: ap.points, strides: ap.strides, numClasses: nc };
}
