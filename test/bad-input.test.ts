// Bad input throws GflInputError naming the argument, before any kernel runs; the instance stays usable and
// preallocated outputs are left untouched.
import { describe, it, expect } from 'vitest';
import { GflInputError, createGflSync } from '../dist/index.js';
import { backends, gfl } from './helpers.js';

function expectInputError(fn: () => unknown, argument: string, messagePart?: RegExp) {
  let caught: unknown;
  try { fn(); } catch (e) { caught = e; }
  expect(caught, `expected a GflInputError for ${argument}`).toBeInstanceOf(GflInputError);
  const err = caught as GflInputError;
  expect(err.argument).toBe(argument);
  expect(err.message).toContain(argument);
  if (messagePart) expect(err.message).toMatch(messagePart);
}

for (const backend of backends()) {
  describe(`bad input [${backend}]`, () => {
    const g = gfl(backend);
    const pred = Float32Array.from({ length: 12 }, (_, i) => i / 4 - 1.5);
    const label = Int32Array.of(0, 3, 2);
    const score = Float32Array.of(0.5, 0.9, 0.3);
    const good = () => g.qualityFocalLossSync({ pred, label, score }, { reduction: 'sum' });
    const reference = good();

    it('QFL: types, lengths, ranges, parameters, options', () => {
      expectInputError(() => g.qualityFocalLossSync({ pred: Array.from(pred) as never, label, score }), 'input.pred', /Float32Array/);
      expectInputError(() => g.qualityFocalLossSync({ pred: new Float64Array(12) as never, label, score }), 'input.pred', /Float64Array/);
      expectInputError(() => g.qualityFocalLossSync({ pred: pred.subarray(0, 11), label, score }), 'input.pred', /multiple of 3/);
      expectInputError(() => g.qualityFocalLossSync({ pred, label: Float32Array.of(0, 1, 2) as never, score }), 'input.label', /Int32Array/);
      expectInputError(() => g.qualityFocalLossSync({ pred, label, score: score.subarray(0, 2) }), 'input.score', /length 3/);
      expectInputError(() => g.qualityFocalLossSync({ pred, label, score: Float32Array.of(0.5, 1.5, 0.3) }), 'input.score', /\[0, 1\]/);
      expectInputError(() => g.qualityFocalLossSync({ pred, label, score: Float32Array.of(NaN, 0.5, 0.3) }), 'input.score');
      // many rows (the SIMD tier's four-row steps, then the tail): the first positive row out of range is named, rows
      // whose label is a negative (−1, C, large) are not checked
      const rows = 23, c = 4;
      const many = { pred: new Float32Array(rows * c), label: Int32Array.from({ length: rows }, (_, i) => (i % 3 === 0 ? [-1, c, 1 << 30][i % 9 / 3] : i % c)), score: new Float32Array(rows).fill(0.5) };
      for (let i = 0; i < rows; i += 3) many.score[i] = i % 2 ? NaN : -2; // at the negatives only
      expect(Number.isFinite(g.qualityFocalLossSync(many, { reduction: 'sum' }).loss)).toBe(true);
      // bad values in the four-row steps (rows 0–19) and in the tail (20–22); a later bad positive row (row + 3, also
      // positive) must not be the one reported, and the message gives the first bad row's value
      for (const [row, bad] of [[5, 1.0000001], [17, -0.1], [10, NaN], [22, NaN], [1, Infinity]] as const) {
        const s = new Float32Array(many.score);
        s[row] = bad;
        if (row + 3 < rows) s[row + 3] = 7;
        expectInputError(() => g.qualityFocalLossSync({ ...many, score: s }, { reduction: 'sum' }), 'input.score', new RegExp(`got ${Math.fround(bad)} at row ${row}$`));
      }
      expectInputError(() => g.qualityFocalLossSync({ pred, label, score }, { beta: NaN }), 'options.beta', /finite/);
      expectInputError(() => g.qualityFocalLossSync({ pred, label, score }, { beta: Infinity }), 'options.beta', /finite/);
      expectInputError(() => g.qualityFocalLossSync({ pred, label, score }, { beta: -1 }), 'options.beta');
      expectInputError(() => g.qualityFocalLossSync({ pred, label, score }, { reduction: 'avg' as never }), 'options.reduction');
      expectInputError(() => g.qualityFocalLossSync({ pred, label, score }, { reduction: 'sum', avgFactor: 2 }), 'options.avgFactor');
      expectInputError(() => g.qualityFocalLossSync({ pred, label, score }, { avgFactor: NaN }), 'options.avgFactor');
      expectInputError(() => g.qualityFocalLossSync({ pred, label, score }, { weight: new Float32Array(2) }), 'options.weight', /length 3/);
      expectInputError(() => g.qualityFocalLossSync({ pred, label, score }, { weight: Float32Array.of(1, Infinity, 1) }), 'options.weight');
      expectInputError(() => g.qualityFocalLossSync({ pred, label, score }, { gradOutput: new Float32Array(3) }), 'options.gradOutput', /'none'/);
      expectInputError(() => g.qualityFocalLossSync({ pred, label, score }, { reduction: 'none', gradOutput: new Float32Array(4) }), 'options.gradOutput');
      expectInputError(() => g.qualityFocalLossSync({ pred, label, score }, { lossWeight: NaN }), 'options.lossWeight');
      expectInputError(() => g.qualityFocalLossSync({ pred, label, score }, { betta: 2 } as never), 'options.betta', /unknown option/);
      expectInputError(() => g.qualityFocalLossSync({ pred, label, score }, { activated: true }), 'input.pred', /\[0, 1\]/);
      expectInputError(() => g.qualityFocalLossSync({ pred, label, score }, { out: { gradPred: new Float32Array(5) } }), 'options.out.gradPred');
      expectInputError(() => g.qualityFocalLossSync(null as never), 'input');
    });

    it('QFL dense, focal, DFL, Integral, boxes, general GFL', () => {
      expectInputError(() => g.qualityFocalLossDenseSync({ pred, target: new Float32Array(12) }, {} as never), 'options.numClasses');
      expectInputError(() => g.qualityFocalLossDenseSync({ pred, target: new Float32Array(12).fill(2) }, { numClasses: 4 }), 'input.target', /\[0, 1\]/);
      expectInputError(() => g.qualityFocalLossDenseSync({ pred, target: new Float32Array(8) }, { numClasses: 4 }), 'input.target', /length 12/);
      expectInputError(() => g.sigmoidFocalLossSync({ pred, label }, { alpha: 1.5 }), 'options.alpha');
      expectInputError(() => g.sigmoidFocalLossSync({ pred, label }, { gamma: NaN }), 'options.gamma', /finite/);
      const dp = new Float32Array(3 * 17);
      expectInputError(() => g.distributionFocalLossSync({ pred: dp, target: Float32Array.of(1, 2, 3) }, {} as never), 'options.bins');
      expectInputError(() => g.distributionFocalLossSync({ pred: dp, target: Float32Array.of(1, 2, 3) }, { bins: 1 }), 'options.bins', /≥ 2/);
      expectInputError(() => g.distributionFocalLossSync({ pred: dp, target: Float32Array.of(1, 2, 3) }, { bins: 2.5 }), 'options.bins');
      expectInputError(() => g.distributionFocalLossSync({ pred: dp, target: Float32Array.of(1, 2, 16) }, { bins: 17 }), 'input.target', /\[0, 16\)/);
      expectInputError(() => g.distributionFocalLossSync({ pred: dp, target: Float32Array.of(-0.5, 2, 3) }, { bins: 17 }), 'input.target');
      expectInputError(() => g.distributionFocalLossSync({ pred: dp, target: Float32Array.of(1, 2, NaN) }, { bins: 17, convention: 'ultralytics' }), 'input.target');
      expectInputError(() => g.distributionFocalLossSync({ pred: dp, target: Float32Array.of(1, 2) }, { bins: 17 }), 'input.target', /length 3/);
      expectInputError(() => g.distributionFocalLossSync({ pred: dp.subarray(1), target: Float32Array.of(1, 2, 3) }, { bins: 17 }), 'input.pred');
      expectInputError(() => g.distributionFocalLossSync({ pred: dp, target: Float32Array.of(1, 2, 3) }, { bins: 17, convention: 'yolo' as never }), 'options.convention');
      expectInputError(() => g.integralSync({ x: dp }, { bins: 16 }), 'input.x', /multiple of 16/);
      expectInputError(() => g.integralSync({ x: dp }, { bins: 17, gradOutput: new Float32Array(2) }), 'options.gradOutput');
      const boxes = Float32Array.of(0, 0, 10, 10, 5, 5, 20, 20);
      expectInputError(() => g.giouLossSync({ pred: boxes, target: boxes.subarray(0, 4) }), 'input.target');
      expectInputError(() => g.giouLossSync({ pred: boxes.subarray(0, 7), target: boxes }), 'input.pred', /multiple of 4/);
      expectInputError(() => g.giouLossSync({ pred: boxes, target: boxes }, { eps: 0 }), 'options.eps');
      expectInputError(() => g.giouLossSync({ pred: Float32Array.of(0, 0, NaN, 1), target: boxes.subarray(0, 4) }), 'input.pred');
      expectInputError(() => g.ciouLossSync({ pred: boxes, target: boxes }, { eps: Infinity }), 'options.eps');
      const one = Float32Array.of(0.5);
      expectInputError(() => g.generalizedFocalLossSync({ probLeft: one, probRight: one, yLeft: Float32Array.of(2), yRight: Float32Array.of(1), target: Float32Array.of(1.5) }), 'input.yRight');
      expectInputError(() => g.generalizedFocalLossSync({ probLeft: one, probRight: one, yLeft: Float32Array.of(1), yRight: Float32Array.of(2), target: Float32Array.of(2.5) }), 'input.target');
      expectInputError(() => g.generalizedFocalLossSync({ probLeft: Float32Array.of(1.5), probRight: one, yLeft: Float32Array.of(1), yRight: Float32Array.of(2), target: Float32Array.of(1.5) }), 'input.probLeft');
    });

    it('leaves preallocated outputs untouched and the instance usable', () => {
      const gradPred = new Float32Array(12).fill(7);
      expectInputError(() => g.qualityFocalLossSync({ pred, label, score: Float32Array.of(2, 2, 2) }, { reduction: 'sum', out: { gradPred } }), 'input.score');
      expect(Array.from(gradPred)).toEqual(new Array(12).fill(7));
      const again = good();
      expect(again.loss).toBe(reference.loss);
      expect(Array.from(again.gradPred!)).toEqual(Array.from(reference.gradPred!));
    });
  });
}

describe('createGfl options', () => {
  it('rejects unknown backends and options by name', () => {
    expectInputError(() => createGflSync({ backend: 'webgl' as never }), 'options.backend');
    expectInputError(() => createGflSync({ threads: 2 } as never), 'options.threads', /createGfl\(\)/);
    expectInputError(() => createGflSync({ frobnicate: 2 } as never), 'options.frobnicate', /unknown option/);
    expectInputError(() => createGflSync({ wasmModule: 'gfloss.wasm' as never }), 'options.wasmModule');
    expectInputError(() => createGflSync({ wasmModule: new Uint8Array([1, 2, 3]) }), 'options.wasmModule', /do not compile/);
  });
});
