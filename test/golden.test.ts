// Every public golden case, on every backend, gradients included, within the case's tolerance hints.
import { describe, it, expect } from 'vitest';
import { basename } from 'node:path';
import { runCase, compareCase, UnsupportedOpError } from '../dist/conformance.js';
import { goldenFiles, readCase, backends, gfl } from './helpers.js';

/** The head-level ops run like every other op now; the test below checks that these cases are among those run. */
const HEAD_OPS = new Set(['mmdet.GFLHead.loss_by_feat', 'ultralytics.utils.loss.v8DetectionLoss']);

const files = goldenFiles();

describe('golden cases', () => {
  it('has the public cases', () => {
    expect(files.length).toBe(26);
  });

  it('has the four head cases (GFL head, YOLOv8), which must pass like the rest', () => {
    expect(files.filter((f) => HEAD_OPS.has(readCase(f).op)).length).toBe(4);
  });

  it('reports an unknown op as unsupported, by name', () => {
    const c = { ...readCase(files[0]), op: 'mmdet.NoSuchLoss' };
    expect(() => runCase(gfl('wasm-scalar'), c)).toThrow(UnsupportedOpError);
    expect(() => runCase(gfl('wasm-scalar'), c)).toThrow(/mmdet\.NoSuchLoss/);
  });

  for (const backend of backends()) {
    describe(backend, () => {
      for (const file of files) {
        const c = readCase(file);
        const name = basename(file);
        it(`${name} (${c.op})`, () => {
          const result = runCase(gfl(backend), c);
          const checks = compareCase(c, result);
          const expected = Object.keys(c.outputs).length + Object.values(c.grads).reduce((n, g) => n + Object.keys(g).length, 0);
          expect(checks.length).toBe(expected);
          const failed = checks.filter((k) => !k.pass);
          expect(failed, JSON.stringify(failed)).toEqual([]);
        });
      }
    });
  }
});
