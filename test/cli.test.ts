// `gfloss conformance` as a user runs it: exit codes, written documents, and unsupported ops reported by name.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, GOLDEN_DIR } from './helpers.js';

const cli = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'gfloss.mjs'), ...args], { encoding: 'utf8' });

describe('gfloss conformance', () => {
  it('writes every field of the case and passes --check on both backends', () => {
    const out = mkdtempSync(join(tmpdir(), 'gfloss-'));
    const files = ['qfl_beta2_N12_C4_s102.json', 'giou_K16_s110.json', 'dfl_n16_M8000_s151.json.gz'].map((f) => join(GOLDEN_DIR, f));
    const r = cli(['conformance', ...files, '--backend', 'all', '--out', out, '--check']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/all cases passed/);
    const doc = JSON.parse(readFileSync(join(out, 'wasm-simd', 'qfl_beta2_N12_C4_s102.json'), 'utf8'));
    const golden = JSON.parse(readFileSync(files[0], 'utf8'));
    expect(doc.name).toBe('qfl_beta2_N12_C4_s102');
    expect(doc.backend).toBe('wasm-simd');
    expect(Object.keys(doc.outputs).sort()).toEqual(Object.keys(golden.outputs).sort());
    expect(Object.keys(doc.grads).sort()).toEqual(Object.keys(golden.grads).sort());
    expect(doc.outputs.loss_elementwise.shape).toEqual(golden.outputs.loss_elementwise.shape);
    // large tensors use the schema's base64 encoding
    const big = JSON.parse(readFileSync(join(out, 'wasm-scalar', 'dfl_n16_M8000_s151.json'), 'utf8'));
    expect(big.grads.loss_sum.pred.encoding).toBe('base64-le');
  });

  it('reports an op it cannot run by name, with a non-zero exit', () => {
    // every public op runs now: an unknown op stands in for one that cannot
    const c = JSON.parse(readFileSync(join(GOLDEN_DIR, 'qfl_beta2_N12_C4_s102.json'), 'utf8'));
    c.op = 'mmdet.NoSuchLoss';
    c.name = 'unknown_op';
    const dir = mkdtempSync(join(tmpdir(), 'gfloss-'));
    const file = join(dir, 'unknown_op.json');
    writeFileSync(file, JSON.stringify(c));
    const out = mkdtempSync(join(tmpdir(), 'gfloss-'));
    const r = cli(['conformance', file, '--out', out]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/mmdet\.NoSuchLoss/);
    expect(existsSync(join(out, 'unknown_op.json'))).toBe(false);
  });

  it('fails --check when a value is off', () => {
    const c = JSON.parse(readFileSync(join(GOLDEN_DIR, 'qfl_beta2_N12_C4_s102.json'), 'utf8'));
    c.outputs.loss_sum.data[0] += 1e-3;
    const dir = mkdtempSync(join(tmpdir(), 'gfloss-'));
    const file = join(dir, 'tampered.json');
    writeFileSync(file, JSON.stringify(c));
    const r = cli(['conformance', file, '--check']);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/FAIL .*outputs\.loss_sum/s);
  });

  it('prints usage and exits 2 on a bad command line', () => {
    expect(cli(['conformance']).status).toBe(2);
    expect(cli(['conformance', 'x.json', '--frobnicate']).status).toBe(2);
    expect(cli(['nonsense']).status).toBe(2);
  });

  it('doctor reports capabilities', () => {
    const r = cli(['doctor']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/simd:\s+true/);
    expect(r.stdout).toMatch(/auto picks:\s+wasm-simd/);
  });
});
