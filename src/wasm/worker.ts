// A pool worker (loaded by src/wasm/pool.ts as a module file next to it): instantiates the threads build on the shared
// memory it is given and runs blocks of kernel calls until told to exit. It allocates nothing in wasm memory and keeps
// no state there: the calling thread owns the layout and passes pointers.
import { blockArgs, type KernelCall, type KernelName } from './runtime.js';
import {
  SEQ, DONE, NEXT, END, KERNEL, NARGS, ROWS, ROW_WIDTH, ROWS_PER_BLOCK, B0, OP, FAILED, STAGED, SPLIT, SPLIT_ROWS, OP_EXIT,
  ARGS_BYTE, RES_BYTE, RES_CAPACITY, FIN_BYTE, MAX_ARGS, kernelNames, type WorkerInit, type WorkerMessage,
} from './protocol.js';

type Post = (m: WorkerMessage) => void;

function serve(init: WorkerInit, post: Post): void {
  let fns: Array<(...a: number[]) => number | undefined>;
  try {
    const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
    const exports = instance.exports as unknown as Record<string, (...a: number[]) => number | undefined>;
    fns = kernelNames(init.module).map((n) => exports[n]);
  } catch (e) {
    post({ type: 'error', message: `worker ${init.index} could not instantiate the kernels: ${(e as Error).message}` });
    return;
  }
  const c = new Int32Array(init.control);
  const args = new Float64Array(init.control, ARGS_BYTE, MAX_ARGS);
  const res = new Float64Array(init.control, RES_BYTE, RES_CAPACITY);
  const fin = new Int32Array(init.control, FIN_BYTE, RES_CAPACITY);
  const names = kernelNames(init.module);
  // Read SEQ before saying ready: a job published between 'ready' and the first wait is then not missed.
  let seq = Atomics.load(c, SEQ);
  post({ type: 'ready' });
  for (;;) {
    Atomics.wait(c, SEQ, seq);
    seq = Atomics.load(c, SEQ);
    if (c[OP] === OP_EXIT) return;
    const end = c[END];
    // Take a block before building anything: a worker that wakes after the others have taken every block does nothing.
    let i = Atomics.add(c, NEXT, 1);
    if (i < end) {
      const k = c[KERNEL], nargs = c[NARGS], b0 = c[B0];
      const fn = fns[k];
      const call: KernelCall = {
        kernel: names[k] as KernelName,
        args: Array.from(args.subarray(0, nargs)),
        split: Array.from(c.subarray(SPLIT, SPLIT + nargs), (s) => (s === SPLIT_ROWS ? 'rows' : s)),
        rows: c[ROWS],
        rowWidth: c[ROW_WIDTH],
      };
      if (c[ROWS_PER_BLOCK] > 0) call.rowsPerBlock = c[ROWS_PER_BLOCK];
      try {
        for (; i < end; i = Atomics.add(c, NEXT, 1)) {
          // the block's streamed inputs may still be on their way: wait (not spin) until the calling thread has them in
          for (let staged = Atomics.load(c, STAGED); staged <= i; staged = Atomics.load(c, STAGED)) Atomics.wait(c, STAGED, staged);
          const v = fn(...blockArgs(call, b0 + i));
          res[i] = v === undefined ? 0 : v;
          Atomics.store(fin, i, 1);
        }
      } catch {
        // A trap leaves this job's result incomplete; the calling thread sees FAILED after every ack and rejects.
        Atomics.store(c, FAILED, init.index + 1);
      }
    }
    // Every worker acknowledges every job; the last one wakes the calling thread.
    if (Atomics.add(c, DONE, 1) + 1 === init.workers) Atomics.notify(c, DONE);
  }
}

const g = globalThis as { postMessage?: unknown; addEventListener?: unknown };
if (typeof g.postMessage === 'function' && typeof g.addEventListener === 'function') {
  // web Worker (browsers, Deno, Bun)
  const scope = globalThis as unknown as { postMessage(m: unknown): void; addEventListener(t: string, f: (e: MessageEvent) => void, o?: unknown): void };
  scope.addEventListener('message', (e: MessageEvent) => serve(e.data as WorkerInit, (m) => scope.postMessage(m)), { once: true });
} else {
  // node:worker_threads
  const name = 'node:worker_threads'; // by name, so that bundlers for the web leave it alone
  const { parentPort } = (await import(/* @vite-ignore */ /* webpackIgnore: true */ name)) as typeof import('node:worker_threads');
  if (!parentPort) throw new Error('gfloss: dist/wasm/worker.js is a worker script; it is loaded by the thread pool');
  parentPort.once('message', (init: WorkerInit) => serve(init, (m) => parentPort.postMessage(m)));
}
