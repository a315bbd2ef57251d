// Every public golden case, on every backend, gradients included, within the case's tolerance hints.
import { describe, it, expect } from 'vitest';
import { basename } from 'node:path';
import { runCase, compareCase, UnsupportedOpError } from '../dist/conformance.js';
import { goldenFiles, readCase, backends, gfl } from './helpers.js';

/** Head-level ops belong to the head-loss work; they must be reported as unsupported, by name. */
const HEAD_OPS = new Set(['mmdet.GFLHead.loss_by_feat', 'ultralytics.utils.loss.v8DetectionLoss']);

const files = goldenFiles();

describe('golden cases', () => {
  it('has the public cases', () => {
    expect(files.length).toBe(26);
  });

  for (const backend of backends()) {
    describe(backend, () => {
      for (const file of files) {
        const c = readCase(file);
        const name = basename(file);
        if (HEAD_OPS.has(c.op)) {
          it(`${name}: reported as unsupported`, () => {
            expect(() => runCase(gfl(backend), c)).toThrow(UnsupportedOpError);
          });
          continue;
        }
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
