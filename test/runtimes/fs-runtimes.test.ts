// Node, Deno and Bun (the latter two installed from npm) each import the packed package by name and run the shared
// golden smoke test (smoke-core.mjs) on every backend, also loading the kernels through createGfl({ wasmUrl }); on
// wasm-simd-threads with 1 and 2 threads the same calls must give single-thread SIMD's results bit for bit; then,
// with every instance disposed, the process must exit by itself.
import { describe, it, expect, inject } from 'vitest';
import { join } from 'node:path';
import { BIN, GOLDEN_DIRS, GOLDEN_COUNT, RUNTIMES_DIR } from './paths.js';
import { run, describeRun, smokeSummary, stage, keepSummary, expectThreads } from './spawn.js';

const runtimes: Array<{ name: string; cmd: string; args: string[] }> = [
  { name: 'node', cmd: process.execPath, args: [] },
  // Deno reads the goldens, the package and (for the pool) its worker script: --allow-read and nothing else
  { name: 'deno', cmd: BIN.deno, args: ['run', '--allow-read'] },
  { name: 'bun', cmd: BIN.bun, args: [] },
];

describe.each(runtimes)('$name', ({ name, cmd, args }) => {
  it('passes every supported golden case on every backend, via the embedded kernels and via wasmUrl, and exits by itself', async () => {
    const dir = stage(inject('consumerDir'), `smoke-${name}`, RUNTIMES_DIR, ['smoke-core.mjs', 'smoke-fs.mjs']);
    const wasmDir = join(inject('consumerDir'), 'node_modules', 'gfloss', 'build');
    const r = await run(cmd, [...args, 'smoke-fs.mjs', ...GOLDEN_DIRS, '--wasm-dir', wasmDir], { cwd: dir, timeoutMs: 60_000 });
    expect(r.code, describeRun(r)).toBe(0);
    const s = smokeSummary(r.stdout);
    keepSummary(name, s);
    expect(s.runtime).toBe(name);
    expect(s.failures).toEqual([]);
    expect(s.backends).toEqual(expect.arrayContaining(['wasm-scalar', 'wasm-simd']));
    expect(s.files).toBe(GOLDEN_COUNT);
    expect(s.unsupported).toEqual([]);
    for (const b of ['wasm-scalar', 'wasm-simd']) {
      expect(s.perBackend[b], b).toBe(GOLDEN_COUNT);
      expect(s.wasmUrl[b], `${b} via wasmUrl`).toBe(s.perBackend[b]);
    }
    expect(s.classCounts['wasm-simd'], 'QFL at 1, 4, 20, 81 classes vs wasm-scalar').toBe(8);
    expect(s.capabilities.simd).toBe(true);
    expectThreads(s);
  });
});

describe('a runtime that is missing', () => {
  it('fails the run with the reason, never skips', async () => {
    await expect(run(`${BIN.deno}-missing`, ['--version'], { cwd: RUNTIMES_DIR, timeoutMs: 10_000 })).rejects.toThrow(/is missing: install the devDependencies/);
  });
});
