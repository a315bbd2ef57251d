// Cloudflare's workerd (npm `workerd`, its own binary) runs the golden smoke test inside a worker: `workerd test` on a
// wrangler-style config, with no sockets. workerd bundles the worker itself, resolving `gfloss` through the package's
// `workerd` condition.
import { describe, it, expect, inject } from 'vitest';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { BIN, GOLDEN_DIR, RUNTIMES_DIR } from './paths.js';
import { run, describeRun, smokeSummary, stage, keepSummary } from './spawn.js';

describe('workerd', () => {
  it('passes every supported golden case inside a worker, with the kernels imported as wasm modules', async () => {
    const dir = stage(inject('consumerDir'), 'smoke-workerd', RUNTIMES_DIR, ['smoke-core.mjs', 'workerd-smoke.mjs']);
    // every golden whose op the package runs (the others are the head-loss cases: their op list is checked in Node)
    const { SUPPORTED_OPS } = await import('../../dist/conformance.js');
    const cases = [];
    for (const file of readdirSync(GOLDEN_DIR).filter((f) => /\.json(\.gz)?$/.test(f)).sort()) {
      const raw = readFileSync(join(GOLDEN_DIR, file));
      const c = JSON.parse((file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8'));
      if (SUPPORTED_OPS.includes(c.op)) cases.push({ file, base64: raw.toString('base64') });
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
    for (const b of ['wasm-scalar', 'wasm-simd']) expect(s.perBackend[b], b).toBe(cases.length);
    expect(cases.length).toBeGreaterThanOrEqual(22);
  });
});
