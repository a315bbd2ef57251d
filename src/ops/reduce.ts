// Weight, reduction, avg_factor, loss weight and upstream gradient, as mmdetection's `weight_reduce_loss` and the
// loss modules apply them, folded into one coefficient per row that the kernels multiply into loss and gradient.
import { GflInputError } from '../errors.js';
import { finiteNumber, optionalF32, reduction as parseReduction, allFinite, type Reduction } from '../validate.js';

/** float32 machine epsilon, which mmdetection adds to avg_factor even in float64. */
export const FLOAT32_EPS = 1.1920928955078125e-7;

export interface ReduceOptions {
  /** Per-row weight (mmdetection's `weight` / `label_weights`). Default: all ones. */
  weight?: Float32Array;
  /** 'mean' (default), 'sum' or 'none'. */
  reduction?: Reduction;
  /** With 'mean': divide the weighted sum by `avgFactor + 1.1920929e-7` instead of by the count. Not allowed with 'sum'. */
  avgFactor?: number;
  /** Multiplies the loss and its gradient (mmdetection's `loss_weight`). Default 1. */
  lossWeight?: number;
  /** With 'none' only: the upstream gradient, one value per loss element; gradients are of Σ gradOutput·loss. */
  gradOutput?: Float32Array;
}

export interface ReducePlan {
  reduction: Reduction;
  weight?: Float32Array;
  lossWeight: number;
  gradOutput?: Float32Array;
  /** Factor applied to every row for 'sum' and 'mean': lossWeight / denominator. */
  scale: number;
}

/**
 * @param rows        number of weighted rows
 * @param meanCount   what 'mean' divides by without avgFactor (rows, or rows × classes for per-element losses)
 * @param gradLength  length of gradOutput for 'none'
 */
export function planReduction(o: Record<string, unknown>, rows: number, meanCount: number, gradLength: number): ReducePlan {
  const reduction = parseReduction('options.reduction', o.reduction);
  const weight = optionalF32('options.weight', o.weight, rows);
  if (weight) allFinite('options.weight', weight);
  const lossWeight = o.lossWeight === undefined ? 1 : finiteNumber('options.lossWeight', o.lossWeight);
  let denom = reduction === 'mean' ? meanCount : 1;
  if (o.avgFactor !== undefined) {
    const af = finiteNumber('options.avgFactor', o.avgFactor);
    if (reduction === 'sum') throw new GflInputError('options.avgFactor', "cannot be used with reduction 'sum' (as upstream)");
    if (reduction === 'mean') denom = af + FLOAT32_EPS;
  }
  let gradOutput: Float32Array | undefined;
  if (o.gradOutput !== undefined) {
    if (reduction !== 'none') {
      throw new GflInputError('options.gradOutput', "applies to reduction 'none' only; for 'sum' or 'mean' scale options.lossWeight");
    }
    gradOutput = optionalF32('options.gradOutput', o.gradOutput, gradLength);
  }
  const scale = reduction === 'none' ? lossWeight : lossWeight / denom;
  return { reduction, weight, lossWeight, gradOutput, scale };
}

/**
 * Writes the per-row coefficient. For 'none' with a per-row gradOutput it includes gradOutput; a per-element
 * gradOutput (gradLength > rows) is applied by the kernel as its elementwise factor instead.
 */
export function fillCoef(plan: ReducePlan, coef: Float32Array, perRowGrad: boolean): void {
  const { weight, scale, gradOutput } = plan;
  const g = perRowGrad ? gradOutput : undefined;
  // the common cases without the per-element tests (the same float64 products: a factor of 1 is exact)
  if (!weight && !g) coef.fill(scale);
  else if (!g) for (let i = 0; i < coef.length; i++) coef[i] = scale * weight![i];
  else for (let i = 0; i < coef.length; i++) coef[i] = scale * (weight ? weight[i] : 1) * g[i];
}

/** Scales kernel row (or element) losses in place into what reduction 'none' returns: lossWeight·weight·L. */
export function weighRows(plan: ReducePlan, losses: Float32Array, perRow: number): Float32Array {
  const { weight, lossWeight } = plan;
  if (!weight && lossWeight === 1) return losses;
  for (let i = 0; i < losses.length; i++) losses[i] = lossWeight * (weight ? weight[Math.floor(i / perRow)] : 1) * losses[i];
  return losses;
}

export function sumOf(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

export const REDUCE_KEYS = ['weight', 'reduction', 'avgFactor', 'lossWeight', 'gradOutput'] as const;
