// The wasm-simd-threads backend in Node: bitwise determinism over thread counts, queued concurrent calls, synchronous
// calls during async ones, bad input, dead workers, and memory that stays flat.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createGfl, createGflSync, getCapabilities, GflInputError, GflThreadsError, type Gfl } from '../dist/index.js';
import { CASES, bitwiseDiff, deepBitwiseDiff, recorder, type RecordedCall } from './threads-cases.js';
import { rng, uniform, goldenFiles, readCase } from './helpers.js';
import { runCase } from '../dist/conformance.js';

const THREAD_COUNTS = [1, 2, 3, 4, 7];

describe('wasm-simd-threads: determinism', () => {
  const simd = createGflSync({ backend: 'wasm-simd' });
  const refs = CASES.map((c) => c.sync(simd));
  const pools = new Map<number, Gfl>();

  beforeAll(async () => {
    expect(getCapabilities().threads).toBe(true);
    expect(getCapabilities().workers).toBe(true);
    for (const t of THREAD_COUNTS) pools.set(t, await createGfl({ backend: 'wasm-simd-threads', threads: t }));
  });
  afterAll(async () => {
    for (const g of pools.values()) await g.dispose();
  });

  for (const t of THREAD_COUNTS) {
    it(`every loss on ${t} thread${t > 1 ? 's' : ''} equals wasm-simd bit for bit (losses and gradients)`, async () => {
      const g = pools.get(t)!;
      expect(g.backend).toBe('wasm-simd-threads');
      expect(g.threads).toBe(t);
      for (let i = 0; i < CASES.length; i++) {
        const before = g.threadPool!.parallelCalls;
        const got = await CASES[i].async(g);
        // every case is big enough to be split over the workers (1 thread: there are none)
        const split = g.threadPool!.parallelCalls - before;
        if (t > 1) expect(split, `${CASES[i].name}: kernel calls split over the pool`).toBe(CASES[i].splits ?? 1);
        else expect(split).toBe(0);
        expect(bitwiseDiff(refs[i], got), `${CASES[i].name} (async)`).toBe('');
        // the synchronous twin on the same instance runs the threads build on the calling thread
        expect(bitwiseDiff(refs[i], CASES[i].sync(g)), `${CASES[i].name} (sync)`).toBe('');
      }
    });
  }
});

describe('wasm-simd-threads: streamed inputs and outputs', () => {
  // Workers may take a block before the calling thread has staged its rows and then wait for them; with few blocks
  // and many workers they can take every block while the calling thread runs one. Each call must still finish (a
  // worker left waiting would hang it: the test's timeout fails it) and equal the single-threaded result.
  const simd = createGflSync({ backend: 'wasm-simd' });
  for (const t of [2, 3, 5, 7]) {
    it(`${t} threads: 3 to 17 blocks per call, 40 calls, every result equal to wasm-simd`, async () => {
      const g = await createGfl({ backend: 'wasm-simd-threads', threads: t });
      try {
        const r = rng(31 + t), c = 80, rowsPerBlock = 409; // 32768 / 80
        for (let k = 0; k < 40; k++) {
          const n = rowsPerBlock * (3 + (k % 15)) - (k % 3) * 17;
          const pred = uniform(r, n * c, -7, 3);
          const label = Int32Array.from({ length: n }, () => (r() < 0.05 ? Math.floor(r() * c) : c));
          const score = uniform(r, n, 0, 1);
          const before = g.threadPool!.parallelCalls;
          const got = await g.qualityFocalLoss({ pred, label, score }, { avgFactor: 11 });
          expect(g.threadPool!.parallelCalls - before).toBe(1);
          const ref = simd.qualityFocalLossSync({ pred, label, score }, { avgFactor: 11 });
          expect(bitwiseDiff(ref as never, got as never), `call ${k} (${n} rows)`).toBe('');
        }
      } finally {
        await g.dispose();
      }
    }, 20_000);
  }
});

describe('wasm-simd-threads: every golden case (head losses included) through the pool', () => {
  // The conformance runner drives the synchronous methods of a recording stand-in for wasm-simd; every call it
  // makes is replayed through the asynchronous twin on the pool and compared bit for bit.
  const simd = createGflSync({ backend: 'wasm-simd' });
  const calls: RecordedCall[] = [];
  for (const file of goldenFiles()) runCase(recorder(simd, calls), readCase(file));

  for (const t of [2, 3, 7]) {
    it(`${t} threads: ${calls.length} recorded calls equal wasm-simd bit for bit`, async () => {
      const g = await createGfl({ backend: 'wasm-simd-threads', threads: t });
      try {
        const methods = new Set<string>();
        for (const c of calls) {
          const fn = (g as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[c.method];
          const got = await fn.apply(g, c.args);
          expect(deepBitwiseDiff(c.result, got, c.method)).toBe('');
          methods.add(c.method);
        }
        expect(methods.has('gflHeadLoss') && methods.has('yoloV8Loss') && methods.has('qualityFocalLoss')).toBe(true);
        expect(g.threadPool!.parallelCalls).toBeGreaterThan(0); // the C = 80 head cases are large enough to split
      } finally {
        await g.dispose();
      }
    });
  }
});

describe('wasm-simd-threads: concurrency, bad input, lifetime', () => {
  let g: Gfl;
  const simd = createGflSync({ backend: 'wasm-simd' });
  beforeAll(async () => {
    g = await createGfl({ backend: 'wasm-simd-threads', threads: 3 });
  });
  afterAll(async () => {
    await g.dispose();
  });

  it('many overlapping async calls on one instance all give the right results', async () => {
    const r = rng(7);
    const jobs = Array.from({ length: 24 }, (_, i) => {
      const n = [10, 500, 2000, 4000][i % 4], c = 80;
      const pred = uniform(r, n * c, -6, 3);
      const label = Int32Array.from({ length: n }, () => (r() < 0.1 ? Math.floor(r() * c) : c));
      const score = uniform(r, n, 0, 1);
      return { pred, label, score };
    });
    const got = await Promise.all(jobs.map((j, i) => (i % 3 === 2
      ? g.sigmoidFocalLoss({ pred: j.pred, label: j.label })
      : g.qualityFocalLoss(j, { avgFactor: i + 1 }))));
    jobs.forEach((j, i) => {
      const ref = i % 3 === 2 ? simd.sigmoidFocalLossSync({ pred: j.pred, label: j.label }) : simd.qualityFocalLossSync(j, { avgFactor: i + 1 });
      expect(bitwiseDiff(ref as never, got[i] as never), `call ${i}`).toBe('');
    });
  });

  it('a synchronous call made while an async call waits for the workers does not trample its buffers', async () => {
    const r = rng(8);
    const n = 40000, c = 80, m = 6000;
    const big = { pred: uniform(r, n * c, -6, 3), label: Int32Array.from({ length: n }, () => (r() < 0.1 ? Math.floor(r() * c) : c)), score: uniform(r, n, 0, 1) };
    // big enough that its buffers, staged at the frame base, would cover rows of `big` the workers have not reached
    const small = { pred: uniform(r, m * c, -6, 3), label: new Int32Array(m).fill(3), score: uniform(r, m, 0, 1) };
    // β = 1.5 takes the general power path, several times the work per logit of β = 2: the workers then fall behind
    // the calling thread's staging of the inputs, and the call is still running after it yields (with β = 2 the
    // workers kept pace, and the call could end before the first synchronous call below)
    const slow = { beta: 1.5 };
    const refBig = simd.qualityFocalLossSync(big, slow);
    const refSmall = simd.qualityFocalLossSync(small);
    let settled = false;
    // the calling thread normally runs blocks too and only yields once every block is taken; leave them all to the
    // workers so that the call is surely in flight while the synchronous calls below run
    g.threadPool!.callerTakesBlocks = false;
    const p = g.qualityFocalLoss(big, slow).finally(() => { settled = true; g.threadPool!.callerTakesBlocks = true; });
    let during = 0;
    while (!settled) {
      await new Promise((res) => setImmediate(res));
      if (settled) break;
      expect(bitwiseDiff(refSmall as never, g.qualityFocalLossSync(small) as never)).toBe('');
      during++;
    }
    expect(bitwiseDiff(refBig as never, (await p) as never)).toBe('');
    expect(during).toBeGreaterThan(0);
  });

  it('bad input rejects with GflInputError before any worker work, and the pool stays usable', async () => {
    const pool = g.threadPool!;
    const before = pool.parallelCalls;
    const n = 4000, c = 80;
    const pred = new Float32Array(n * c), label = new Int32Array(n).fill(c), score = new Float32Array(n);
    const bad = [
      g.qualityFocalLoss({ pred, label, score: new Float32Array(n - 1) }),
      g.qualityFocalLoss({ pred, label, score }, { beta: NaN }),
      g.distributionFocalLoss({ pred: new Float32Array(17 * 10), target: new Float32Array(10).fill(16) }, { bins: 17 }),
      g.qualityFocalLoss({ pred: new Float64Array(n * c) as unknown as Float32Array, label, score }),
    ];
    const args = ['input.score', 'options.beta', 'input.target', 'input.pred'];
    const settled = await Promise.allSettled(bad);
    settled.forEach((s, i) => {
      expect(s.status).toBe('rejected');
      const e = (s as PromiseRejectedResult).reason;
      expect(e).toBeInstanceOf(GflInputError);
      expect(e.argument).toBe(args[i]);
    });
    expect(pool.parallelCalls).toBe(before);
    const ok = await g.qualityFocalLoss({ pred, label, score });
    expect(bitwiseDiff(simd.qualityFocalLossSync({ pred, label, score }) as never, ok as never)).toBe('');
    expect(pool.parallelCalls).toBe(before + 1);
  });

  it('options are checked: threads must be a positive integer; the threads backend is async-only', async () => {
    await expect(createGfl({ backend: 'wasm-simd-threads', threads: 0 })).rejects.toMatchObject({ argument: 'options.threads' });
    await expect(createGfl({ backend: 'wasm-simd-threads', threads: 1.5 })).rejects.toMatchObject({ argument: 'options.threads' });
    await expect(createGfl({ backend: 'wasm-simd', threads: 2 })).rejects.toMatchObject({ argument: 'options.threads' });
    expect(() => createGflSync({ backend: 'wasm-simd-threads' })).toThrow(/createGfl\(\)/);
    await expect(createGfl({ backend: 'wasm-simd-threads', workerUrl: 42 as never })).rejects.toMatchObject({ argument: 'options.workerUrl' });
    const one = await createGfl({ threads: 1 });
    expect(one.backend).toBe('wasm-simd');
    // a worker script that does not exist: forced, a clear error; auto, single-threaded
    const missing = new URL('./no-such-worker.js', import.meta.url);
    await expect(createGfl({ backend: 'wasm-simd-threads', threads: 2, workerUrl: missing })).rejects.toBeInstanceOf(GflThreadsError);
  });
});

describe('wasm-simd-threads: dead workers', () => {
  const simd = createGflSync({ backend: 'wasm-simd' });
  const r = rng(9);
  const n = 6000, c = 80;
  const x = { pred: uniform(r, n * c, -6, 3), label: Int32Array.from({ length: n }, () => (r() < 0.1 ? Math.floor(r() * c) : c)), score: uniform(r, n, 0, 1) };
  const ref = simd.qualityFocalLossSync(x);

  it('a worker that dies while idle is replaced on the next call', async () => {
    const g = await createGfl({ backend: 'wasm-simd-threads', threads: 3 });
    try {
      const w = g.threadPool!.workers[0] as { terminate(): Promise<number> };
      await w.terminate();
      await new Promise((res) => setImmediate(res)); // let the 'exit' event arrive
      const got = await g.qualityFocalLoss(x);
      expect(bitwiseDiff(ref as never, got as never)).toBe('');
      expect(g.threadPool!.workers[0]).not.toBe(w);
    } finally {
      await g.dispose();
    }
  });

  it('a worker that dies during a call rejects that call with a clear error, never hangs; the next call works', async () => {
    const g = await createGfl({ backend: 'wasm-simd-threads', threads: 3 });
    try {
      const w = g.threadPool!.workers[1] as { terminate(): Promise<number> };
      // the exit event reaches the calling thread only after the job has been published: the job waits for an ack
      // that never comes
      void w.terminate();
      const p = g.qualityFocalLoss(x);
      await expect(p).rejects.toBeInstanceOf(GflThreadsError);
      await expect(p).rejects.toThrow(/worker 1 of 2 exited/);
      expect(bitwiseDiff(ref as never, (await g.qualityFocalLoss(x)) as never)).toBe('');
    } finally {
      await g.dispose();
    }
  });

  it('a replacement that cannot start rejects each call with the reason (never fewer threads silently); it recovers', async () => {
    const g = await createGfl({ backend: 'wasm-simd-threads', threads: 2 });
    try {
      const pool = g.threadPool! as unknown as { url: URL; workers: Array<{ terminate(): Promise<number> }> };
      const good = pool.url;
      pool.url = new URL('./no-such-worker.js', import.meta.url);
      await pool.workers[0].terminate();
      await new Promise((res) => setImmediate(res));
      await expect(g.qualityFocalLoss(x)).rejects.toBeInstanceOf(GflThreadsError);
      await expect(g.qualityFocalLoss(x)).rejects.toBeInstanceOf(GflThreadsError);
      pool.url = good;
      const calls = g.threadPool!.parallelCalls;
      expect(bitwiseDiff(ref as never, (await g.qualityFocalLoss(x)) as never)).toBe('');
      expect(g.threadPool!.parallelCalls).toBe(calls + 1);
    } finally {
      await g.dispose();
    }
  });

  it('after dispose(), async calls reject; synchronous calls still work', async () => {
    const g = await createGfl({ backend: 'wasm-simd-threads', threads: 2 });
    await g.dispose();
    await expect(g.qualityFocalLoss(x)).rejects.toThrow(/disposed/);
    expect(bitwiseDiff(ref as never, g.qualityFocalLossSync(x) as never)).toBe('');
  });
});
