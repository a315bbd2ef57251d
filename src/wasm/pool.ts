// The thread pool of the wasm-simd-threads backend: one compiled module, one shared WebAssembly.Memory (the calling
// thread's WasmRuntime), and `threads − 1` persistent workers that instantiate the module on that memory. The calling
// thread takes part in every job, so `threads` counts it: 1 thread is the same build with no workers.
//
// Why the pieces are the way they are (measured facts in the platform notes):
// - the control block is its own SharedArrayBuffer: memory.grow never invalidates it;
// - every worker acknowledges every job, and the calling thread waits with Atomics.waitAsync (Atomics.wait throws
//   on a browser's main thread, and blocking would stall the caller's event loop), holding a ref'd timer meanwhile
//   because Node's event loop is not kept alive by a pending waitAsync (the process would exit with code 13);
// - workers are unref'd (Node) once their listeners are attached, so an idle pool never keeps a process alive;
// - nobody spins: 2-core machines with more threads than cores lose far more to spinning than to a wake-up.
import { isNodeRuntime } from '../capabilities.js';
import { blockArgs, blockCount, stageBlock, drainBlock, type KernelCall, type WasmRuntime, type Op } from './runtime.js';
import {
  SEQ, DONE, NEXT, END, KERNEL, NARGS, ROWS, ROW_WIDTH, ROWS_PER_BLOCK, B0, OP, FAILED, STAGED, SPLIT, SPLIT_ROWS, OP_RUN, OP_EXIT,
  ARGS_BYTE, RES_BYTE, RES_CAPACITY, FIN_BYTE, CONTROL_BYTES, MAX_ARGS, kernelNames, type WorkerInit, type WorkerMessage,
} from './protocol.js';

/**
 * Calls with fewer elements (rows × row width) than this run on the calling thread alone. Measured with
 * test/threads-dispatch.test.ts (400 empty jobs through ThreadPool.ping(): publish, Atomics.notify, every worker
 * wakes and acks, the calling thread's Atomics.waitAsync resolves) on the 2-vCPU development machine, Node 20, while
 * the machine was loaded (load average 9–10): median 12 µs (p90 20) to one worker, 21 µs (p90 34) to two. The
 * cheapest kernel, QFL, costs 2–7 ns per element through the API on one thread. Splitting a call over two threads
 * saves half its work, so it breaks even at about 2 × 20 µs / 2 ns = 20,000 elements; the threshold is set three
 * times higher (≈130 µs of work) so that the round trip costs at most about 15 % where splitting starts. It is also
 * two blocks (blockRows), so the calls it keeps on the calling thread could be split at most in two.
 */
export const PARALLEL_MIN_ELEMENTS = 65536;

/** Blocks of streamed inputs the calling thread keeps staged ahead of the next block to be taken, per thread. */
const STAGE_AHEAD = 2;

/** Raised when the pool cannot run a call: a worker died, the instance was disposed, a worker could not start. */
export class GflThreadsError extends Error {
  constructor(message: string) {
    super(`gfloss: ${message}`);
    this.name = 'GflThreadsError';
  }
}

interface WorkerHandle {
  post(msg: WorkerInit): void;
  terminate(): Promise<void>;
  /** the underlying Worker (tests terminate one to check that a dead worker is reported, not waited for) */
  raw: unknown;
}

interface Listeners {
  message(m: WorkerMessage): void;
  /** the worker is gone (exit, uncaught error) */
  death(why: string): void;
}

async function spawnWorker(url: URL, on: Listeners): Promise<WorkerHandle> {
  const WebWorker = (globalThis as { Worker?: new (u: URL, o?: unknown) => Worker }).Worker;
  if (typeof WebWorker === 'function' && !isNodeRuntime()) {
    const w = new WebWorker(url, { type: 'module', name: 'gfloss' });
    w.addEventListener('message', (e: MessageEvent) => on.message(e.data as WorkerMessage));
    w.addEventListener('error', (e: ErrorEvent) => { e.preventDefault?.(); on.death(`error: ${e.message ?? 'unknown'}`); });
    w.addEventListener('messageerror', () => on.death('a message could not be deserialised'));
    // Deno's web Workers cannot be unref'd: there the instance must be disposed for the process to exit.
    const u = (w as unknown as { unref?: () => void }).unref;
    if (typeof u === 'function') u.call(w);
    return { post: (m) => w.postMessage(m), terminate: async () => w.terminate(), raw: w };
  }
  const name = 'node:worker_threads'; // by name, so that bundlers for the web leave it alone
  const { Worker: NodeWorker } = (await import(/* @vite-ignore */ /* webpackIgnore: true */ name)) as typeof import('node:worker_threads');
  const w = new NodeWorker(url, { name: 'gfloss', execArgv: workerExecArgv() });
  w.on('message', (m: WorkerMessage) => on.message(m));
  w.on('error', (e: Error) => on.death(`uncaught error: ${e.message}`));
  w.on('exit', (code: number) => on.death(`exited with code ${code}`));
  // after on('message'): attaching a message listener refs the worker again
  w.unref();
  return { post: (m) => w.postMessage(m), terminate: async () => { await w.terminate(); }, raw: w };
}

/**
 * The parent's Node flags minus those about its own entry code: a worker inherits process.execArgv, and with
 * `node --input-type=module -e …` it would fail to start ("--input-type can only be used with string input").
 */
function workerExecArgv(): string[] {
  const argv = (globalThis as unknown as { process: { execArgv: string[] } }).process.execArgv;
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print' || a === '--input-type') i++; // and its value
    else if (!a.startsWith('--input-type=') && !a.startsWith('--eval=') && !a.startsWith('--print=')) out.push(a);
  }
  return out;
}

const START_TIMEOUT_MS = 30_000;

/** One generation of workers: started together (Crew.start resolves when every one has said 'ready'), ended together. */
class Crew {
  readonly handles: WorkerHandle[] = [];
  readonly control = new SharedArrayBuffer(CONTROL_BYTES);
  /** why the crew can no longer run jobs (a worker died); set once */
  broken: string | undefined;
  private ending: Promise<void> | undefined;

  private constructor(readonly size: number) {}

  static async start(size: number, url: URL, module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<Crew> {
    const crew = new Crew(size);
    const c = new Int32Array(crew.control);
    let readyCount = 0;
    let settle!: (err?: Error) => void;
    const ready = new Promise<void>((resolve, reject) => { settle = (err) => (err ? reject(err) : resolve()); });
    // Node keeps no event-loop reference for unref'd workers: this timer holds one until every worker has answered,
    // and bounds the wait (a worker script that never answers would otherwise hang createGfl).
    const hold = setTimeout(() => settle(new GflThreadsError(`${size} worker thread(s) from ${url.href} did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    try {
      for (let i = 0; i < size; i++) {
        const h = await spawnWorker(url, {
          message: (m) => {
            if (m.type === 'ready') { if (++readyCount === size) settle(); } else settle(new GflThreadsError(m.message));
          },
          death: (why) => {
            if (crew.ending) return;
            const msg = `worker ${i} of ${size} ${why}`;
            if (!crew.broken) crew.broken = msg;
            settle(new GflThreadsError(`a worker thread failed to start: ${msg}`));
            // wake a calling thread waiting for acks that will never come
            Atomics.notify(c, DONE);
          },
        });
        crew.handles.push(h);
        h.post({ module, memory, control: crew.control, index: i, workers: size });
      }
      await ready;
    } catch (e) {
      await crew.end();
      throw e instanceof GflThreadsError ? e : new GflThreadsError(`could not start worker threads from ${url.href}: ${(e as Error).message}`);
    } finally {
      clearTimeout(hold);
    }
    return crew;
  }

  /** Asks the workers to leave their loop, then terminates them; resolves when every thread has exited. */
  end(): Promise<void> {
    if (!this.ending) {
      const c = new Int32Array(this.control);
      Atomics.store(c, OP, OP_EXIT);
      Atomics.add(c, SEQ, 1);
      Atomics.notify(c, SEQ);
      this.ending = Promise.all(this.handles.map((h) => h.terminate().catch(() => {}))).then(() => {});
    }
    return this.ending;
  }
}

// ES2024 (lib option 'es2024' would admit it; the package targets ES2022)
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, i: number, v: number): { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync;

export interface PoolOptions {
  /** threads in all, the calling thread included (≥ 1) */
  threads: number;
  /** URL of the worker script (default: worker.js next to this file) */
  workerUrl?: URL;
}

export class ThreadPool {
  readonly threads: number;
  private crew: Crew | undefined;
  private readonly url: URL;
  private readonly names: string[];
  private readonly index = new Map<string, number>();
  private disposed = false;
  /** @internal kernel calls split over the workers so far (tests check that the pool was really used) */
  parallelCalls = 0;
  /**
   * @internal whether the calling thread takes blocks too (it does: that saves a wake-up, and 1 thread needs no
   * worker). Tests turn it off to hold a call in flight long enough to make synchronous calls meanwhile.
   */
  callerTakesBlocks = true;
  /** an async call in progress holds the pool; others wait in this queue (the frame region is one per instance) */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly rt: WasmRuntime, private readonly module: WebAssembly.Module, opts: PoolOptions) {
    this.threads = opts.threads;
    this.url = opts.workerUrl ?? new URL('./worker.js', import.meta.url);
    this.names = kernelNames(module);
    this.names.forEach((n, i) => this.index.set(n, i));
  }

  static async create(rt: WasmRuntime, module: WebAssembly.Module, opts: PoolOptions): Promise<ThreadPool> {
    if (!(rt.memory.buffer instanceof SharedArrayBuffer)) throw new GflThreadsError('the thread pool needs the threads build on shared memory');
    const pool = new ThreadPool(rt, module, opts);
    if (opts.threads > 1) pool.crew = await Crew.start(opts.threads - 1, pool.url, module, rt.memory);
    return pool;
  }

  /** the workers' Worker objects (for tests) */
  get workers(): unknown[] {
    return this.crew ? this.crew.handles.map((h) => h.raw) : [];
  }

  /**
   * Runs an op to completion: validation and staging on the calling thread, large kernel calls split over the pool.
   * Calls queue: one op at a time owns the frame region and the control block.
   */
  drive<R>(op: Op<R>): Promise<R> {
    const p = this.queue.then(() => this.driveNow(op));
    this.queue = p.then(() => {}, () => {});
    return p;
  }

  private async driveNow<R>(op: Op<R>): Promise<R> {
    if (this.disposed) throw new GflThreadsError('this instance was disposed');
    if (this.threads > 1 && (!this.crew || this.crew.broken)) await this.restart();
    const rt = this.rt;
    const floor = rt.frameFloor();
    try {
      // validates and stages: bad input throws here, or in a later step that runs on this thread only (no call before
      // it reaches the workers), so no worker ever sees a call with bad input
      let step = op.next();
      while (!step.done) {
        const call = step.value;
        if (!this.crew || call.rows * call.rowWidth < PARALLEL_MIN_ELEMENTS || blockCount(call) < 2) {
          step = op.next(rt.run(call));
        } else {
          // a synchronous call made while this one waits for the workers must carve its frame above this op's buffers
          rt.protectFrames();
          step = op.next(await this.runParallel(call));
        }
      }
      return step.value;
    } finally {
      rt.releaseFrames(floor);
    }
  }

  /**
   * Runs one kernel call's blocks on the workers and the calling thread; adds the block results in block order.
   * Streamed inputs are copied in by the calling thread first, block by block, while the workers already run the
   * blocks it has staged; then it takes blocks too, and between two of its blocks copies out the outputs of the blocks
   * that have finished (in block order). Copies and kernels so overlap instead of taking turns.
   */
  private async runParallel(call: KernelCall): Promise<number> {
    const crew = this.crew!;
    const k = this.index.get(call.kernel);
    if (k === undefined) throw new GflThreadsError(`kernel ${call.kernel} is not exported by the threads build`);
    if (call.args.length > MAX_ARGS) throw new GflThreadsError(`kernel ${call.kernel} has more than ${MAX_ARGS} arguments`);
    const c = new Int32Array(crew.control);
    const args = new Float64Array(crew.control, ARGS_BYTE, MAX_ARGS);
    const res = new Float64Array(crew.control, RES_BYTE, RES_CAPACITY);
    const fin = new Int32Array(crew.control, FIN_BYTE, RES_CAPACITY);
    const fn = this.rt.kernels[call.kernel] as (...a: number[]) => number | undefined;
    const memory = this.rt.memory;
    const blocks = blockCount(call);
    const streamsIn = !!call.streamIn, streamsOut = !!call.streamOut;
    this.parallelCalls++;
    let total = 0;
    for (let b0 = 0; b0 < blocks; b0 += RES_CAPACITY) {
      const end = Math.min(RES_CAPACITY, blocks - b0);
      fin.fill(0, 0, end);
      // publish: plain stores, made visible to the workers by the atomic add on SEQ
      c[KERNEL] = k;
      c[NARGS] = call.args.length;
      c[ROWS] = call.rows;
      c[ROW_WIDTH] = call.rowWidth;
      c[ROWS_PER_BLOCK] = call.rowsPerBlock ?? 0;
      c[B0] = b0;
      c[END] = end;
      c[OP] = OP_RUN;
      c[FAILED] = 0;
      for (let i = 0; i < call.args.length; i++) {
        args[i] = call.args[i];
        const s = call.split[i];
        c[SPLIT + i] = s === 'rows' ? SPLIT_ROWS : s;
      }
      Atomics.store(c, STAGED, streamsIn ? 0 : end);
      Atomics.store(c, NEXT, 0);
      Atomics.store(c, DONE, 0);
      Atomics.add(c, SEQ, 1);
      Atomics.notify(c, SEQ);
      let mine: unknown;
      let drained = 0;
      try {
        // Inputs are staged just ahead of the blocks being taken, so that a block's rows are still in cache when a
        // thread runs it. Everything is staged first where the calling thread will be busy elsewhere for a while
        // (side work) or takes no blocks (tests), since the workers could otherwise run dry.
        let staged = streamsIn ? 0 : end;
        const stage = (upTo: number) => {
          for (; staged < upTo; staged++) stageBlock(memory, call, b0 + staged);
          Atomics.store(c, STAGED, staged);
          Atomics.notify(c, STAGED);
        };
        const eager = (b0 === 0 && !!call.sideWork) || !this.callerTakesBlocks;
        if (staged < end && eager) stage(end);
        if (b0 === 0) call.sideWork?.();
        const ahead = STAGE_AHEAD * this.threads;
        while (this.callerTakesBlocks) {
          // Workers take a block before it is staged and wait for it: stage first, even when every block is taken.
          const next = Atomics.load(c, NEXT);
          if (staged < end && staged < next + ahead) {
            stage(Math.min(end, next + ahead));
            continue;
          }
          if (next >= end) break; // every block is taken, and staged
          if (streamsOut) for (; drained < end && Atomics.load(fin, drained) === 1; drained++) drainBlock(memory, call, b0 + drained);
          // take the next block (it is staged: staged ≥ next + 1 here) unless a worker took it meanwhile
          if (Atomics.compareExchange(c, NEXT, next, next + 1) !== next) continue;
          const v = fn(...blockArgs(call, b0 + next));
          res[next] = v === undefined ? 0 : v;
          Atomics.store(fin, next, 1);
        }
        if (streamsOut) for (; drained < end && Atomics.load(fin, drained) === 1; drained++) drainBlock(memory, call, b0 + drained);
      } catch (e) {
        mine = e; // still wait for every ack: the workers must be idle before the frame can be reused
        // a worker waiting for a block that will not be staged now must not wait forever
        Atomics.store(c, STAGED, end);
        Atomics.notify(c, STAGED);
      }
      await this.acks(crew, c);
      if (mine !== undefined) throw mine;
      if (streamsOut && c[FAILED] === 0) for (; drained < end; drained++) drainBlock(memory, call, b0 + drained);
      if (c[FAILED] !== 0) throw new GflThreadsError(`a kernel trapped in worker ${c[FAILED] - 1} (${call.kernel})`);
      for (let i = 0; i < end; i++) total += res[i];
    }
    return total;
  }

  /**
   * @internal One empty job through the queue: publish, wake every worker, wait for every ack. Its duration is the
   * dispatch round trip that PARALLEL_MIN_ELEMENTS is derived from (test/threads-dispatch.test.ts measures it).
   */
  ping(): Promise<void> {
    const p = this.queue.then(async () => {
      if (this.disposed) throw new GflThreadsError('this instance was disposed');
      if (this.threads > 1 && (!this.crew || this.crew.broken)) await this.restart();
      const crew = this.crew;
      if (!crew) return;
      const c = new Int32Array(crew.control);
      c[END] = 0;
      c[OP] = OP_RUN;
      c[FAILED] = 0;
      Atomics.store(c, NEXT, 0);
      Atomics.store(c, DONE, 0);
      Atomics.add(c, SEQ, 1);
      Atomics.notify(c, SEQ);
      await this.acks(crew, c);
    });
    this.queue = p.then(() => {}, () => {});
    return p;
  }

  /** Waits until every worker has acknowledged the job, without blocking the calling thread's event loop. */
  private async acks(crew: Crew, c: Int32Array): Promise<void> {
    let d = Atomics.load(c, DONE);
    if (d === crew.size && !crew.broken) return;
    const hold = setInterval(() => {}, 1 << 30); // keeps Node alive: a pending waitAsync does not
    try {
      while (d !== crew.size) {
        if (crew.broken) {
          // The job will never complete. End the surviving workers before rejecting, so that none of them writes
          // into a frame that the next call (or a synchronous call) reuses.
          await crew.end();
          throw new GflThreadsError(this.disposed
            ? 'the instance was disposed while this call was running'
            : `${crew.broken} during a call; the call was abandoned and the pool restarts on the next call`);
        }
        const w = waitAsync(c, DONE, d);
        if (w.async) await w.value;
        d = Atomics.load(c, DONE);
      }
    } finally {
      clearInterval(hold);
    }
  }

  /**
   * Replaces a crew that lost a worker (or whose replacement failed to start: then every call tries again and rejects
   * with the reason, rather than quietly running on fewer threads than asked for).
   */
  private async restart(): Promise<void> {
    const old = this.crew;
    this.crew = undefined;
    if (old) await old.end();
    this.crew = await Crew.start(this.threads - 1, this.url, this.module, this.rt.memory);
  }

  /** Ends the workers. Calls queued or in flight reject; the process can exit once the workers are gone. */
  dispose(): Promise<void> {
    if (this.disposed) return Promise.resolve();
    this.disposed = true;
    const crew = this.crew;
    if (!crew) return Promise.resolve();
    if (!crew.broken) crew.broken = 'the instance was disposed';
    Atomics.notify(new Int32Array(crew.control), DONE);
    return crew.end();
  }
}
