// Process lifetime with the thread pool, each in a fresh Node process: awaiting a call at top level (Node does not
// keep its event loop alive for Atomics.waitAsync), exiting by itself after dispose() and without it, dispose() during
// a call, and the single-thread fallback with one warning where the page is not cross-origin isolated.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './helpers.js';

const DIST = pathToFileURL(join(ROOT, 'dist', 'index.js')).href;

function node(script: string) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

const CALL = `
  const N = 4000, C = 80;
  const pred = new Float32Array(N * C).map((_, i) => Math.sin(i) * 4);
  const label = new Int32Array(N).map((_, i) => (i % 7 === 0 ? i % C : C));
  const score = new Float32Array(N).fill(0.5);
`;

describe('wasm-simd-threads: process lifetime (child processes)', () => {
  it('a top-level await of a call completes, and after dispose() the process exits by itself', () => {
    const r = node(`import { createGfl } from '${DIST}';
      ${CALL}
      const g = await createGfl({ backend: 'wasm-simd-threads', threads: 3 });
      const a = await g.qualityFocalLoss({ pred, label, score });
      if (g.threadPool.parallelCalls !== 1) throw new Error('the pool was not used');
      await g.dispose();
      console.log('loss', a.loss);`);
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^loss \d/);
  });

  it('without dispose() the idle workers do not keep the process alive', () => {
    const r = node(`import { createGfl } from '${DIST}';
      ${CALL}
      const g = await createGfl({ backend: 'wasm-simd-threads', threads: 2 });
      await g.qualityFocalLoss({ pred, label, score });
      console.log('done');`);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('done');
  });

  it('dispose() during a call rejects it and the process still exits', () => {
    const r = node(`import { createGfl } from '${DIST}';
      ${CALL}
      const g = await createGfl({ backend: 'wasm-simd-threads', threads: 2 });
      const first = g.qualityFocalLoss({ pred, label, score });
      await new Promise((res) => setImmediate(res)); // the first call is now waiting for its workers (or done)
      const calls = Promise.allSettled([first, g.qualityFocalLoss({ pred, label, score })]);
      await g.dispose();
      const s = await calls;
      console.log(s.map((x) => x.status === 'rejected' ? x.reason.name + ': ' + x.reason.message : 'ok').join('\\n'));`);
    expect(r.status).toBe(0);
    // the first call may have finished before dispose(); the second was queued behind it and never started
    expect(r.stdout).toMatch(/GflThreadsError: gfloss: .*disposed/);
  });

  it('not cross-origin isolated: auto falls back to single-thread SIMD with one warning naming COOP/COEP', () => {
    const r = node(`globalThis.crossOriginIsolated = false;
      const { createGfl, getCapabilities } = await import('${DIST}');
      const caps = getCapabilities();
      const a = await createGfl();
      const b = await createGfl();
      console.log(JSON.stringify({ threads: caps.threads, reason: caps.threadsReason, a: a.backend, b: b.backend, why: a.backendReason }));`);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.threads).toBe(false);
    expect(out.reason).toMatch(/Cross-Origin-Opener-Policy: same-origin.*Cross-Origin-Embedder-Policy: require-corp/);
    expect(out.a).toBe('wasm-simd');
    expect(out.b).toBe('wasm-simd');
    const warnings = r.stderr.split('\n').filter((l) => l.includes('Cross-Origin-Opener-Policy'));
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toMatch(/single-threaded/);
  });
});

describe('gfloss doctor', () => {
  it('prints the workers, the processors, and the backend and thread count createGfl() gets', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'gfloss.mjs'), 'doctor'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/threads:\s+true/);
    expect(r.stdout).toMatch(/workers:\s+true/);
    expect(r.stdout).toMatch(/available:\s+wasm-scalar, wasm-simd, wasm-simd-threads/);
    const cores = Number(/processors:\s+(\d+)/.exec(r.stdout)![1]);
    expect(r.stdout).toMatch(cores > 1 ? new RegExp(`auto picks:\\s+wasm-simd-threads, ${cores} threads`) : /auto picks:\s+wasm-simd, 1 thread/);
  });
});
