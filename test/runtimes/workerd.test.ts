// Cloudflare's workerd (npm `workerd`, its own binary) runs the golden smoke test inside a worker: `workerd test` on a
// wrangler-style config, with no sockets. workerd bundles the worker itself, resolving `gfloss` through the package's
// `workerd` condition.
import { describe, it, expect, inject } from 'vitest';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, GOLDEN_DIRS, GOLDEN_COUNT, RUNTIMES_DIR } from './paths.js';
import { run, describeRun, smokeSummary, stage, keepSummary } from './spawn.js';

describe('workerd', () => {
  it('passes every supported golden case inside a worker, with the kernels imported as wasm modules', async () => {
    const dir = stage(inject('consumerDir'), 'smoke-workerd', RUNTIMES_DIR, ['smoke-core.mjs', 'workerd-smoke.mjs']);
    // every public golden (an op the package cannot run is reported by the smoke test as unsupported, and fails)
    const cases = [];
    for (const dir of GOLDEN_DIRS) {
      for (const file of readdirSync(dir).filter((f) => /\.json(\.gz)?$/.test(f)).sort()) {
        cases.push({ file, base64: readFileSync(join(dir, file)).toString('base64') });
      }
    }
    writeFileSync(join(dir, 'cases.js'), `export const CASES = ${JSON.stringify(cases)};\n`);
    writeFileSync(join(dir, 'wrangler.jsonc'), JSON.stringify({ main: 'workerd-smoke.mjs', compatibility_date: '2026-11-01' }));
    const r = await run(BIN.workerd, ['test', 'wrangler.jsonc', '--verbose'], { cwd: dir, timeoutMs: 90_000 });
    expect(r.code, describeRun(r)).toBe(0);
    const out = r.stdout + r.stderr;
    expect(out).toMatch(/\[ PASS \]/);
    const s = smokeSummary(out.split('\n').map((l) => l.replace(/^.*?(GFLOSS-SMOKE )/, '$1')).join('\n'));
    keepSummary('workerd', s);
    expect(s.runtime).toBe('workerd');
    expect(s.compileFromBytes).toMatch(/^refused/);
    expect(s.failures).toEqual([]);
    expect(s.auto.backend).toBe('wasm-simd');
    expect(s.backends).toEqual(expect.arrayContaining(['wasm-scalar', 'wasm-simd']));
    expect(cases.length).toBe(GOLDEN_COUNT);
    expect(s.unsupported).toEqual([]);
    for (const b of ['wasm-scalar', 'wasm-simd']) expect(s.perBackend[b], b).toBe(GOLDEN_COUNT);
    expect(s.classCounts['wasm-simd'], 'QFL at 1, 4, 20, 81 classes vs wasm-scalar').toBe(8);
  });
});
