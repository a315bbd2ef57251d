// The pool's control block: one SharedArrayBuffer apart from the wasm memory, so that growing the memory never
// invalidates it. Shared by the calling thread (src/wasm/pool.ts) and the workers (src/wasm/worker.ts).
//
// One job = one kernel call's blocks [B0, B0 + END). Every participant (the workers and the calling thread) takes the
// next block with Atomics.add on NEXT until none is left and writes that block's f64 result to RES[block − B0]; the
// calling thread adds RES in block order, so who ran which block never changes a bit of the result. A call with
// streamed buffers (runtime.ts, Stream) has its inputs copied in by the calling thread while the job runs: a worker
// may take a block before it is staged, and runs it once STAGED has passed it (so the calling thread must go on
// staging until every block is); FIN[block − B0] says when a block's outputs can be copied out. Every worker
// acknowledges every job (DONE), whether it ran a block or not: with acknowledgements from participants only, a
// worker that woke late could read the next job's fields and run it twice (deadlocked a 20,000-job stress test).

export const SEQ = 0;       // job sequence number; workers wait on it
export const DONE = 1;      // workers that have finished the current job
export const NEXT = 2;      // next block to take, relative to B0
export const END = 3;       // blocks in the job
export const KERNEL = 4;    // index into kernelNames(module)
export const NARGS = 5;
export const ROWS = 6;      // rows of the whole call (blockArgs needs them for the last block)
export const ROW_WIDTH = 7;
export const B0 = 8;        // first block of the job within the call
export const OP = 9;        // OP_RUN or OP_EXIT
export const FAILED = 10;   // set to 1 + worker index by a worker whose kernel threw
export const STAGED = 11;   // blocks (relative to B0) whose streamed inputs are in memory; workers wait on it
export const ROWS_PER_BLOCK = 12; // the call's rowsPerBlock, 0 for blockRows(ROW_WIDTH)
export const SPLIT = 16;    // MAX_ARGS Int32: bytes per row, 0 unchanged, SPLIT_ROWS for the row count
export const MAX_ARGS = 24;
export const SPLIT_ROWS = -1;

export const OP_RUN = 0;
export const OP_EXIT = 1;

const INT_BYTES = (SPLIT + MAX_ARGS) * 4;
/** Byte offset of the f64 kernel arguments (f64 so that pointers past 2^31 and f64 scalars pass exactly). */
export const ARGS_BYTE = Math.ceil(INT_BYTES / 8) * 8;
/** Byte offset of the per-block f64 results. */
export const RES_BYTE = ARGS_BYTE + MAX_ARGS * 8;
/** Blocks per job; a call with more blocks runs as several jobs (4096 blocks of 32,768 elements = 2^27 elements). */
export const RES_CAPACITY = 4096;
/** Byte offset of the per-block Int32 flags: 1 once the block has run (the calling thread then copies its outputs). */
export const FIN_BYTE = RES_BYTE + RES_CAPACITY * 8;
export const CONTROL_BYTES = FIN_BYTE + RES_CAPACITY * 4;

/**
 * The kernel functions a module exports, in export order: the calling thread and the workers derive the same list
 * from the same module, so a job names its kernel by index and no table has to be kept in step with assembly/.
 */
export function kernelNames(module: WebAssembly.Module): string[] {
  return WebAssembly.Module.exports(module).filter((e) => e.kind === 'function').map((e) => e.name);
}

/** Messages from a worker to the calling thread. */
export type WorkerMessage = { type: 'ready' } | { type: 'error'; message: string };

/** The one message the calling thread sends a worker. */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  index: number;
  workers: number;
}
