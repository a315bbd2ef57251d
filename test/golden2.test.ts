// Every public assignment / decode / NMS golden (test/data/goldens2, copied from the upstream-executed set) on every
// backend. Integer fields (labels, indices, masks, keep lists) must match exactly; floats within the tolerance hints.
// The only fields not emitted are ATSS's candidate lists in upstream's topk layout (row order among equal distances
// unspecified); their order-free forms (img{b}_is_candidate, img{b}_is_pos_mask) are checked.
import { describe, it, expect } from 'vitest';
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { runCase, compareCase } from '../dist/conformance.js';
import { ROOT, readCase, backends, gfl } from './helpers.js';

const DIR = join(ROOT, 'test', 'data', 'goldens2');
const files = readdirSync(DIR).filter((f) => /\.json(\.gz)?$/.test(f)).sort().map((f) => join(DIR, f));
const CANDIDATE_LAYOUT = /^img\d+_(candidate_idxs|candidate_overlaps|is_in_gts|is_pos)$/;

describe('goldens2 (assignment, decode, NMS)', () => {
  it('has the public cases', () => {
    expect(files.length).toBe(19);
  });

  for (const backend of backends()) {
    describe(backend, () => {
      for (const file of files) {
        const c = readCase(file);
        it(`${basename(file)} (${c.op})`, () => {
          const result = runCase(gfl(backend), c);
          const checks = compareCase(c, result);
          const skipped = Object.keys(c.outputs).filter((k) => CANDIDATE_LAYOUT.test(k));
          expect(result.unchecked ?? []).toEqual(skipped);
          expect(checks.length).toBe(Object.keys(c.outputs).length - skipped.length);
          const failed = checks.filter((k) => !k.pass);
          expect(failed, JSON.stringify(failed)).toEqual([]);
        });
      }
    });
  }
});
