// The benchmark tool (`npm run bench`, bench/suite.mjs) on its smallest workloads: it exits cleanly, its tfjs peer
// passes the public goldens it is checked on, and its JSON holds what the README quotes: each row's ×bound (the
// workload's bytes at the streaming bandwidth, 2-thread rows against the 2-thread bandwidth) and ×copy (a copy of the
// same bytes), its speed-ups, and a chart that `--from` redraws from the JSON alone. Timings themselves are not
// asserted (a test is no benchmark); only the arithmetic around them.
import { describe, it, expect } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SUITE = join(__dirname, '..', 'bench', 'suite.mjs');

describe('npm run bench (bench/suite.mjs), quick GIoU and DFL at b1', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gfloss-bench-'));
  const json = join(dir, 'bench.json'), svg = join(dir, 'bench.svg');
  const out = execFileSync(process.execPath, [
    SUITE, '--quick', '--only', 'giou,dfl', '--batch', 'b1', '--no-tfjs-cpu', '--no-cold', '--json', json, '--svg', svg,
  ], { encoding: 'utf8', timeout: 120_000 });
  const doc = JSON.parse(readFileSync(json, 'utf8'));

  it('prints the table and the streaming bandwidth on 1 and 2 threads, the 2-thread time never the slower', () => {
    expect(out).toMatch(/streaming bandwidth \(wasm SIMD copy, 128 MiB read \+ 128 MiB written\): 1 thread [\d.]+ GB\/s, /);
    expect(out).toMatch(/128 MiB written\): 1 thread [\d.]+ GB\/s, 2 threads [\d.]+ GB\/s/);
    expect(out).toMatch(/contender +distribution +median ms +min ms +max ms +ns\/elem +×bound +×copy +vs js/);
    const d = doc.bandwidth.dram;
    expect(d.bytes).toBe(256 * 2 ** 20);
    expect(d.t1).toBeGreaterThan(0);
    expect(d.t2).toBeGreaterThan(0);
    expect(d.t2).toBeLessThanOrEqual(d.t1);
  });

  it('checks the tfjs peer against the public goldens before timing it', () => {
    const cases = doc.golden.wasm as Array<{ case: string; ok: boolean }>;
    expect(cases.map((c) => c.case)).toEqual(expect.arrayContaining(['qfl_beta2_N12_C4_s102', 'dfl_n16_M24_s108']));
    for (const c of cases.filter((x) => !x.case.startsWith('giou'))) expect(c.ok, c.case).toBe(true);
  });

  it('gives every row its ×bound (streaming bandwidth), ×copy (same-size copy) and speed-ups', () => {
    expect(doc.workloads.map((w: any) => `${w.loss}/${w.batch}`)).toEqual(['giou/b1', 'dfl/b1']);
    const d = doc.bandwidth.dram;
    for (const w of doc.workloads) {
      const bytes = doc.bandwidth.perWorkload[`${w.loss}/${w.batch}`].bytes;
      expect(w.bound.bytes).toBe(bytes);
      expect(w.bound.t1).toBeCloseTo((bytes * d.t1) / d.bytes, 12);
      expect(w.bound.t2).toBeCloseTo((bytes * d.t2) / d.bytes, 12);
      expect(w.copy.t1).toBeGreaterThan(0);
      for (const rows of Object.values(w.results) as Array<Record<string, any>>) {
        const js = rows.js.median;
        expect(Object.keys(rows)).toEqual(expect.arrayContaining(['js', 'wasm-scalar', 'wasm-simd']));
        for (const s of Object.values(rows)) {
          const two = s.threads >= 2;
          expect(s.min).toBeLessThanOrEqual(s.median);
          expect(s.median).toBeLessThanOrEqual(s.max);
          expect(s.xBound).toBeCloseTo(s.median / (two ? w.bound.t2 : w.bound.t1), 9);
          expect(s.xCopy).toBeCloseTo(s.median / (two && w.copy.t2 ? w.copy.t2 : w.copy.t1), 9);
          expect(s.speedupVsJs).toBeCloseTo(js / s.median, 9);
        }
      }
    }
  });

  it('draws the chart with both yardsticks, and --from redraws it from the JSON alone', () => {
    const chart = readFileSync(svg, 'utf8');
    for (const t of ['bound at the streaming bandwidth, 1 thread', 'bound at the streaming bandwidth, 2 threads',
      'copy of the same bytes, 1 thread', 'copy of the same bytes, 2 threads']) expect(chart).toContain(t);
    const again = join(dir, 'again.svg');
    execFileSync(process.execPath, [SUITE, '--from', json, '--svg', again], { encoding: 'utf8', timeout: 60_000 });
    expect(readFileSync(again, 'utf8')).toBe(chart);
  });

  it('rejects an unknown argument with exit status 2', () => {
    const r = spawnSync(process.execPath, [SUITE, '--no-such-flag'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr + r.stdout).toMatch(/no-such-flag/);
  });
});
