// Anchors and anchor points for multi-level strides, in the row order both upstreams use: level-major, then y, then
// x (then the base anchors of a location). Plain JavaScript in float32 arithmetic (Math.fround at every step, as torch
// computes them); nothing here runs a kernel.
//   gflAnchors: mmdetection v3.1 AnchorGenerator as GFL configures it (octave_base_scale 8, scales_per_octave 1,
//     ratios [1], strides 8..128, center_offset 0): per level a square of side 8·stride centred at (x·s, y·s).
//   anchorValidFlags: AnchorGenerator.valid_flags for one image's pad shape (cells inside ceil(pad / stride)).
//   anchorPoints: ultralytics make_anchors: cell centres (x + 0.5, y + 0.5) in grid units, and the stride per point.
import { GflInputError } from '../errors.js';
import { plainObject, knownKeys, finiteNumber, positiveInt } from '../validate.js';

const fr = Math.fround;

export const GFL_STRIDES: readonly number[] = [8, 16, 32, 64, 128];

export interface GflAnchorOptions {
  /** [H, W] of each level's feature map. */
  featmapSizes: ReadonlyArray<readonly [number, number] | readonly number[]>;
  /** One stride per level; default [8, 16, 32, 64, 128]. */
  strides?: readonly number[];
  /** Default 8. */
  octaveBaseScale?: number;
  /** Default 1. */
  scalesPerOctave?: number;
  /** Aspect ratios h/w; default [1]. */
  ratios?: readonly number[];
  /** Base anchor centre as a fraction of the stride; default 0 (mmdetection). */
  centerOffset?: number;
}

export interface GflAnchors {
  /** N × 4 xyxy pixels. */
  anchors: Float32Array;
  /** Anchors per level. */
  numLevelAnchors: Int32Array;
  /** The stride of each anchor's level (N). */
  strides: Float32Array;
  /** Base anchors per location. */
  anchorsPerLocation: number;
}

/** Validated [H, W] pairs, one per stride. */
export function featmapList(name: string, v: unknown, levels?: number): Array<[number, number]> {
  if (!Array.isArray(v) || v.length === 0) throw new GflInputError(name, `expected an array of [H, W] pairs, got ${String(v)}`);
  if (levels !== undefined && v.length !== levels) throw new GflInputError(name, `expected ${levels} levels (one per stride), got ${v.length}`);
  return v.map((p, i) => {
    if (!Array.isArray(p) || p.length !== 2) throw new GflInputError(`${name}[${i}]`, 'expected [H, W]');
    return [positiveInt(`${name}[${i}][0]`, p[0], 0), positiveInt(`${name}[${i}][1]`, p[1], 0)];
  });
}

export function strideList(name: string, v: unknown, fallback: readonly number[]): number[] {
  if (v === undefined) return [...fallback];
  if (!Array.isArray(v) || v.length === 0) throw new GflInputError(name, `expected an array of positive strides, got ${String(v)}`);
  return v.map((s, i) => finiteNumber(`${name}[${i}]`, s, { min: 0, minExclusive: true }));
}

export function gflAnchors(options: GflAnchorOptions): GflAnchors {
  const o = plainObject('options', options);
  knownKeys('options', o, ['featmapSizes', 'strides', 'octaveBaseScale', 'scalesPerOctave', 'ratios', 'centerOffset']);
  const strides = strideList('options.strides', o.strides, GFL_STRIDES);
  const sizes = featmapList('options.featmapSizes', o.featmapSizes, strides.length);
  const obs = o.octaveBaseScale === undefined ? 8 : finiteNumber('options.octaveBaseScale', o.octaveBaseScale, { min: 0, minExclusive: true });
  const spo = o.scalesPerOctave === undefined ? 1 : positiveInt('options.scalesPerOctave', o.scalesPerOctave);
  const ratios = o.ratios === undefined ? [1] : strideList('options.ratios', o.ratios, [1]);
  const off = o.centerOffset === undefined ? 0 : finiteNumber('options.centerOffset', o.centerOffset, { min: 0, max: 1 });
  // base anchors per level, as AnchorGenerator.gen_single_level_base_anchors (float32 tensors)
  const scales = Array.from({ length: spo }, (_, i) => fr(2 ** (i / spo) * obs));
  const per = ratios.length * scales.length;
  let total = 0;
  for (const [h, w] of sizes) total += h * w * per;
  const anchors = new Float32Array(total * 4);
  const strideOf = new Float32Array(total);
  const numLevel = new Int32Array(sizes.length);
  let row = 0;
  sizes.forEach(([fh, fw], l) => {
    const s = strides[l];
    const xc = fr(off * s), yc = fr(off * s);
    const base: number[][] = [];
    for (const r of ratios) {
      const hr = fr(Math.sqrt(fr(r))), wr = fr(1 / hr);
      for (const sc of scales) {
        const ws = fr(fr(s * wr) * sc), hs = fr(fr(s * hr) * sc);
        const hw = fr(0.5 * ws), hh = fr(0.5 * hs);
        base.push([fr(xc - hw), fr(yc - hh), fr(xc + hw), fr(yc + hh)]);
      }
    }
    for (let y = 0; y < fh; y++) {
      const sy = fr(y * s);
      for (let x = 0; x < fw; x++) {
        const sx = fr(x * s);
        for (const b of base) {
          anchors[row * 4] = fr(b[0] + sx);
          anchors[row * 4 + 1] = fr(b[1] + sy);
          anchors[row * 4 + 2] = fr(b[2] + sx);
          anchors[row * 4 + 3] = fr(b[3] + sy);
          strideOf[row] = s;
          row++;
        }
      }
    }
    numLevel[l] = fh * fw * per;
  });
  return { anchors, numLevelAnchors: numLevel, strides: strideOf, anchorsPerLocation: per };
}

/** Feature map sizes ceil(H / s), ceil(W / s) of a (batch) input shape, as a ResNet + FPN with padding gives. */
export function featmapSizesFor(shape: readonly [number, number], strides: readonly number[]): Array<[number, number]> {
  return strides.map((s) => [Math.ceil(shape[0] / s), Math.ceil(shape[1] / s)]);
}

/**
 * AnchorGenerator.valid_flags: 1 where the anchor's cell lies inside ceil(padShape / stride) (at most the map), as
 * bytes, rows as gflAnchors.
 */
export function anchorValidFlags(
  featmapSizes: ReadonlyArray<readonly [number, number]>, strides: readonly number[], padShape: readonly [number, number],
  anchorsPerLocation = 1,
): Uint8Array {
  let total = 0;
  for (const [h, w] of featmapSizes) total += h * w * anchorsPerLocation;
  const flags = new Uint8Array(total);
  let row = 0;
  featmapSizes.forEach(([fh, fw], l) => {
    const vh = Math.min(Math.ceil(padShape[0] / strides[l]), fh), vw = Math.min(Math.ceil(padShape[1] / strides[l]), fw);
    for (let y = 0; y < fh; y++) for (let x = 0; x < fw; x++) for (let k = 0; k < anchorsPerLocation; k++) flags[row++] = y < vh && x < vw ? 1 : 0;
  });
  return flags;
}

export interface AnchorPointOptions {
  /** [H, W] of each level's feature map. */
  featShapes: ReadonlyArray<readonly [number, number] | readonly number[]>;
  /** One stride per level; default [8, 16, 32]. */
  strides?: readonly number[];
  /** Grid cell offset; default 0.5. */
  offset?: number;
}

export interface AnchorPoints {
  /** A × 2 (x, y) in grid units of each level (multiply by `strides` for pixels). */
  points: Float32Array;
  /** A: the stride of each point. */
  strides: Float32Array;
}

/** ultralytics make_anchors. */
export function anchorPoints(options: AnchorPointOptions): AnchorPoints {
  const o = plainObject('options', options);
  knownKeys('options', o, ['featShapes', 'strides', 'offset']);
  const strides = strideList('options.strides', o.strides, [8, 16, 32]);
  const shapes = featmapList('options.featShapes', o.featShapes, strides.length);
  const off = o.offset === undefined ? 0.5 : finiteNumber('options.offset', o.offset);
  let total = 0;
  for (const [h, w] of shapes) total += h * w;
  const points = new Float32Array(total * 2);
  const st = new Float32Array(total);
  let row = 0;
  shapes.forEach(([h, w], l) => {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        points[row * 2] = fr(x + off);
        points[row * 2 + 1] = fr(y + off);
        st[row] = strides[l];
        row++;
      }
    }
  });
  return { points, strides: st };
}
