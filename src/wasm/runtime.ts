// One kernel instance and the linear memory it works on. JavaScript owns the memory layout: every call carves its
// buffers from `heapBase` upward in a frame, grows the memory once if the frame does not fit, copies the inputs in,
// runs one kernel and copies the outputs out. Nothing is kept between calls, so a call that throws leaves nothing
// behind; the memory stays at its high-water mark, so a training loop stops growing it after the first step.

import { GflInputError } from '../errors.js';

export interface KernelExports {
  heapBase(): number;
  zeroBytes(ptr: number, bytes: number): void;
  expandRows(dst: number, src: number, index: number, count: number, rows: number, width: number): void;
  qflLogits(pred: number, label: number, score: number, coef: number, rowLoss: number, elemLoss: number,
    gradPred: number, gradScore: number, rows: number, cols: number, beta: number): number;
  qflLogitsDense(pred: number, target: number, coef: number, rowLoss: number, elemLoss: number,
    gradPred: number, gradTarget: number, rows: number, cols: number, beta: number): number;
  qflProb(pred: number, label: number, score: number, target: number, coef: number, rowLoss: number, elemLoss: number,
    gradPred: number, gradTarget: number, rows: number, cols: number, beta: number): number;
  qflScoreCheck(label: number, score: number, rows: number, cols: number): number;
  sigmoidFocal(pred: number, label: number, coef: number, elemCoef: number, rowLoss: number, elemLoss: number,
    gradPred: number, rows: number, cols: number, alpha: number, gamma: number): number;
  dfl(pred: number, target: number, coef: number, rowLoss: number, gradPred: number, gradTarget: number,
    rows: number, bins: number, convention: number): number;
  integral(x: number, y: number, gradY: number, gradX: number, scratch: number, rows: number, bins: number): void;
  giou(pred: number, target: number, coef: number, rowLoss: number, iouOut: number, giouOut: number,
    gradPred: number, gradTarget: number, scratch: number, rows: number, eps: number, plusOne: number): number;
  ciou(box1: number, box2: number, coef: number, rowLoss: number, ciouOut: number, iouOut: number, giouOut: number,
    grad1: number, grad2: number, scratch: number, rows: number, eps: number): number;
  gflGeneral(probLeft: number, probRight: number, yLeft: number, yRight: number, y: number, coef: number,
    rowLoss: number, gradLeft: number, gradRight: number, rows: number, beta: number): number;
  gflHeadGather(index: number, cls: number, clsDense: number, w: number, rows: number, cols: number, predSrc: number,
    predDst: number, predWidth: number): number;
  gflHeadPositives(pred: number, anchor: number, stride: number, target: number, w: number, grad: number,
    predBox: number, targetBox: number, corners: number, iou: number, boxLoss: number, dflLoss: number,
    scratch: number, rows: number, bins: number, boxCoef: number, dflCoef: number, eps: number): number;
  unitIntervalSum(v: number, n: number): number;
  yoloV8Positives(pred: number, point: number, stride: number, target: number, w: number, grad: number,
    predBox: number, corners: number, ciou: number, dfl: number,
    scratch: number, rows: number, bins: number, boxCoef: number, dflCoef: number, eps: number): number;
  // assignment, decode and NMS (one image per call; rows = 1)
  atssAssignBatch(anchors: number, n: number, levels: number, numLevels: number, gts: number, gtCount: number, maxG: number,
    topk: number, stats: number, cand: number, candD: number, assigned: number, maxOverlaps: number, soa: number,
    rows: number): number;
  atssAssign(anchors: number, n: number, levels: number, numLevels: number, gts: number, g: number, topk: number,
    overlaps: number, distances: number, candidate: number, positive: number, stats: number,
    cand: number, candD: number, assigned: number, maxOverlaps: number, soa: number): number;
  talAssign(scores: number, pred: number, points: number, labels: number, gts: number, maskGt: number, a: number,
    m: number, nc: number, topk: number, alpha: number, beta: number, eps: number, scratch: number,
    targetLabels: number, targetGtIdx: number, fg: number, targetBoxes: number, norm: number, rows: number): number;
  nms(boxes: number, scores: number, labels: number, n: number, mode: number, scale: number, iouThr: number,
    sameLabelOnly: number, maxCandidates: number, maxKeep: number, boxesForNms: number, order: number, tmp: number,
    suppressed: number, keep: number): number;
  gflLevelTopk(logits: number, n: number, c: number, thr: number, logitFloor: number, nmsPre: number,
    candFlat: number, candScore: number, order: number, tmp: number, outFlat: number, outScore: number): number;
  gflDecode(reg: number, bins: number, anchors: number, rows: number, k: number, stride: number, clamp: number,
    maxW: number, maxH: number, out: number): void;
  yoloDecode(x: number, a: number, regMax: number, nc: number, points: number, strides: number, pred: number): void;
  yoloCandidates(pred: number, a: number, nc: number, conf: number, multiLabel: number, boxes: number, scores: number,
    cls: number, anchor: number): number;
}

/** Exports that the calling thread runs directly on its own instance (memory utilities), never split into blocks. */
type MemoryExports = 'heapBase' | 'zeroBytes' | 'expandRows';

export type KernelName = Exclude<keyof KernelExports, MemoryExports>;

const PAGE = 65536;
const ALIGN = 16;

/**
 * How a kernel argument follows a split of the rows: a number is the bytes a row-indexed buffer advances per row
 * (0: passed unchanged, as scalars and shared buffers are), 'rows' marks the row-count argument.
 */
export type ArgSplit = number | 'rows';

/** Elements (rows × row width) per block: the unit of work and of summation. */
const BLOCK_ELEMENTS = 32768;

/**
 * Rows per block for a given row width. It depends on the shape only, never on how many threads run the blocks,
 * so the per-block partial sums, added in block order, give the same loss bit for bit on any number of threads.
 */
export function blockRows(rowWidth: number): number {
  return Math.max(16, Math.floor(BLOCK_ELEMENTS / Math.max(1, rowWidth)));
}

/**
 * A row-indexed buffer copied between the caller's array and gfloss memory block by block, as the call runs, instead
 * of whole before or after it: `ptr` is where row 0 lives in gfloss memory, `data` the caller's array (all rows).
 * The copy of a block then happens while its rows are in cache, and with the thread pool the calling thread copies
 * while the workers compute.
 */
export interface Stream {
  ptr: number;
  data: Float32Array | Int32Array;
  /** elements per row */
  width: number;
  /** a view of all of gfloss memory, made on the first copy (one view per call, not two per block) */
  memory?: Float32Array | Int32Array;
}

/** One kernel invocation over `rows` rows, described so that it can be cut into blocks and run anywhere. */
export interface KernelCall {
  kernel: KernelName;
  args: number[];
  /** per argument: bytes per row for row-indexed buffers, 0 for anything passed unchanged, 'rows' for the row count */
  split: ArgSplit[];
  rows: number;
  /** elements per row (sets the block size) */
  rowWidth: number;
  /**
   * Rows per block, where blockRows(rowWidth) does not fit: a call whose rows are whole problems (one image each) runs
   * one row per block. Like blockRows(), it must depend on the shape only.
   */
  rowsPerBlock?: number;
  /** inputs copied in just before each block runs (Frame.streamIn) */
  streamIn?: Stream[];
  /** outputs copied out just after each block has run (Frame.streamOut) */
  streamOut?: Stream[];
  /**
   * Work for the calling thread that needs none of this call's results and touches none of its buffers (filling a
   * caller's output array, for instance): with the thread pool it runs while the workers take the call's blocks.
   */
  sideWork?: () => void;
}

export function kernelCall(kernel: KernelName, args: number[], split: ArgSplit[], rows: number, rowWidth: number, frame?: Frame): KernelCall {
  const call: KernelCall = { kernel, args, split, rows, rowWidth };
  frame?.attachStreams(call);
  return call;
}

/** The first row and the row count of block b of a call. */
export function blockSpan(call: KernelCall, b: number): [number, number] {
  const step = call.rowsPerBlock ?? blockRows(call.rowWidth);
  const lo = b * step;
  return [lo, Math.min(step, call.rows - lo)];
}

/**
 * Copies block b's rows of every streamed input into gfloss memory: to the rows' own place in the buffer, or with
 * `reuse` to the buffer's start (see WasmRuntime.run).
 */
export function stageBlock(memory: WebAssembly.Memory, call: KernelCall, b: number, reuse = false): void {
  if (!call.streamIn) return;
  const [lo, n] = blockSpan(call, b);
  for (const s of call.streamIn) copyRows(s, lo, n, memory.buffer, true, reuse);
}

/** Copies block b's rows of every streamed output out of gfloss memory (from where stageBlock's `reuse` says). */
export function drainBlock(memory: WebAssembly.Memory, call: KernelCall, b: number, reuse = false): void {
  if (!call.streamOut) return;
  const [lo, n] = blockSpan(call, b);
  for (const s of call.streamOut) copyRows(s, lo, n, memory.buffer, false, reuse);
}

function copyRows(s: Stream, lo: number, n: number, buf: ArrayBufferLike, into: boolean, reuse: boolean): void {
  const a = lo * s.width, count = n * s.width, at = (reuse ? s.ptr : s.ptr + a * 4) / 4;
  let mem = s.memory;
  if (!mem || mem.buffer !== buf) mem = s.memory = s.data instanceof Int32Array ? new Int32Array(buf) : new Float32Array(buf);
  if (into) mem.set(s.data.subarray(a, a + count), at);
  else s.data.set(mem.subarray(at, at + count), a);
}

/** The argument positions of a call's streamed buffers (the row-split arguments that hold their pointers). */
function streamArgs(call: KernelCall): number[] {
  const out: number[] = [];
  for (const s of [...(call.streamIn ?? []), ...(call.streamOut ?? [])]) {
    const i = call.args.findIndex((v, k) => v === s.ptr && typeof call.split[k] === 'number' && call.split[k] !== 0);
    if (i < 0) throw new Error(`internal: a streamed buffer of ${call.kernel} is not one of its row arguments`);
    out.push(i);
  }
  return out;
}

export function blockCount(call: KernelCall): number {
  return Math.ceil(call.rows / (call.rowsPerBlock ?? blockRows(call.rowWidth)));
}

/** The arguments of block b of a call: row-indexed pointers advanced to the block's first row, its row count. */
export function blockArgs(call: KernelCall, b: number): number[] {
  const [lo, n] = blockSpan(call, b);
  return call.args.map((v, i) => {
    const k = call.split[i];
    return k === 'rows' ? n : k !== 0 && v !== 0 ? v + lo * k : v;
  });
}

/** An op: validates and stages its inputs, yields kernel calls (each answered with its summed result), returns its result. */
export type Op<R> = Generator<KernelCall, R, number>;

/** Drives an op on the calling thread. */
export function runOp<R>(rt: WasmRuntime, op: Op<R>): R {
  let step = op.next();
  while (!step.done) step = op.next(rt.run(step.value));
  return step.value;
}

export class WasmRuntime {
  readonly memory: WebAssembly.Memory;
  readonly kernels: KernelExports;
  /** Where frames start: above the module's static area and above every allocate()d buffer. */
  private base: number;
  /** Shared memory hands out a new SharedArrayBuffer object after each growth; views on the old ones stay valid. */
  private readonly earlierBuffers = new WeakSet<ArrayBufferLike>();
  private readonly shared: boolean;

  constructor(module: WebAssembly.Module, shared: boolean) {
    this.shared = shared;
    this.memory = shared
      ? new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true })
      : new WebAssembly.Memory({ initial: 1 });
    const instance = new WebAssembly.Instance(module, { env: { memory: this.memory } });
    this.kernels = instance.exports as unknown as KernelExports;
    this.base = align(this.kernels.heapBase());
  }

  /**
   * Instantiates on the memory the module asks for: a plain memory, or a shared one for the threads build. The
   * import descriptor does not say whether the memory is shared, so a link error on a plain memory decides.
   */
  static create(module: WebAssembly.Module): WasmRuntime {
    try {
      return new WasmRuntime(module, false);
    } catch (e) {
      if (!(e instanceof WebAssembly.LinkError) || typeof SharedArrayBuffer === 'undefined') throw e;
      return new WasmRuntime(module, true);
    }
  }

  /** Where new frames start: `base`, or above the buffers of an async call that is waiting for its workers. */
  private floor = 0;
  /** The end of the most recently staged frame. */
  private lastTop = 0;

  frame(): Frame {
    return new Frame(this, Math.max(this.base, this.floor));
  }

  /** @internal Frame.ready() records its end, so that the thread pool can protect it while workers use it. */
  noteFrameTop(top: number): void {
    this.lastTop = top;
  }

  /** @internal the current floor, to give back to releaseFrames() when an async call ends */
  frameFloor(): number {
    return this.floor;
  }

  /**
   * @internal Raises the floor above the last staged frame: an async call on the thread pool calls this before it
   * awaits its workers, so that a synchronous call made meanwhile carves its frame above the async call's buffers.
   */
  protectFrames(): void {
    this.floor = Math.max(this.floor, this.lastTop);
  }

  /** @internal */
  releaseFrames(floor: number): void {
    this.floor = floor;
  }

  /**
   * Runs a kernel over its rows in fixed blocks (rowsPerBlock, or blockRows(rowWidth) rows) and returns the sum of the blocks'
   * results, added in block order. A 0 pointer (an output not wanted) stays 0.
   */
  run(call: KernelCall): number {
    const fn = this.kernels[call.kernel] as (...a: number[]) => number | undefined;
    let total = 0;
    // One thread runs the blocks in turn, so every block of a streamed buffer can use the buffer's first block: the
    // copies and the kernel then meet in cache, and the rest of the buffer is never written (half the memory traffic
    // of copying each block to its own place).
    const streamed = call.streamIn || call.streamOut ? streamArgs(call) : [];
    for (let b = 0, blocks = blockCount(call); b < blocks; b++) {
      stageBlock(this.memory, call, b, true);
      const args = blockArgs(call, b);
      for (const i of streamed) args[i] = call.args[i];
      const v = fn(...args);
      drainBlock(this.memory, call, b, true);
      if (v !== undefined) total += v; // integral returns nothing; a NaN loss must propagate
    }
    // after the inputs are read, as on the pool (where it runs once every input is staged)
    call.sideWork?.();
    return total;
  }

  /** Grows the memory so that [0, end) is addressable. */
  ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      if (this.shared) this.earlierBuffers.add(this.memory.buffer);
      this.memory.grow(Math.ceil((end - have) / PAGE));
    }
  }

  /**
   * Carves `bytes` for the caller for good, above everything staged so far, and moves the frames above it: a buffer
   * the caller fills and passes as an input, or passes as an output, without a copy. Only on shared memory, whose
   * views survive growth (Gfl.allocate checks).
   */
  allocate(bytes: number): number {
    const p = align(Math.max(this.base, this.floor, this.lastTop));
    this.base = align(p + Math.max(bytes, 4));
    this.ensure(this.base);
    return p;
  }

  isShared(): boolean {
    return this.shared;
  }

  /** Sets every element of `a` to zero: a view into this memory by memory.fill (see zeroBytes), anything else by fill(). */
  zero(a: Float32Array | Int32Array): void {
    if (this.owns(a)) this.kernels.zeroBytes(a.byteOffset, a.byteLength);
    else a.fill(0);
  }

  /** Whether a typed array is a live view into this memory (and so needs no copy). */
  owns(a: ArrayBufferView): boolean {
    return a.buffer === this.memory.buffer || (this.shared && this.earlierBuffers.has(a.buffer));
  }
}

type Numeric = Float32Array | Int32Array;

/** The buffers of one kernel call. Reserve everything first, then `ready()`, then take views. */
export class Frame {
  private top: number;
  private readonly copies: Array<[number, Numeric]> = [];
  private readonly inPlace: Numeric[] = [];
  private readonly outputsInPlace: Float32Array[] = [];
  private pendingIn: Stream[] = [];
  private pendingOut: Stream[] = [];

  constructor(private readonly rt: WasmRuntime, base: number) {
    this.top = base;
  }

  /** Reserves room for `src` and schedules its copy; returns its offset. A view into this memory is used in place. */
  input(src: Numeric): number {
    return this.place(src, (p) => this.copies.push([p, src]));
  }

  /** A view into this memory is read in place; anything else gets room, and `copy` records how it gets there. */
  private place(src: Numeric, copy: (p: number) => void): number {
    if (this.rt.owns(src)) {
      this.inPlace.push(src);
      return src.byteOffset;
    }
    const p = this.reserve(src.byteLength);
    copy(p);
    return p;
  }

  /**
   * Like input(), for a buffer of `width` elements per row that one later kernel call reads row by row, and nothing
   * reads before or after it: the copy is deferred to that call (give the frame to kernelCall), block by block, and
   * on one thread every block goes through the buffer's first block.
   */
  streamIn(src: Numeric, width: number): number {
    return this.place(src, (p) => this.pendingIn.push({ ptr: p, data: src, width }));
  }

  /**
   * An output of `width` floats per row at `ptr` (from floats()) that the next kernel call writes row by row: copied
   * into `dst` block by block as that call runs. Returns `dst`; an output written in place (`dst` is the view at
   * ptr) needs no copy.
   */
  streamOut(ptr: number, dst: Float32Array, width: number): Float32Array {
    if (!(dst.byteOffset === ptr && this.rt.owns(dst))) this.pendingOut.push({ ptr, data: dst, width });
    return dst;
  }

  /** @internal moves the pending streams onto a kernel call */
  attachStreams(call: KernelCall): void {
    if (this.pendingIn.length) call.streamIn = this.pendingIn;
    if (this.pendingOut.length) call.streamOut = this.pendingOut;
    this.pendingIn = [];
    this.pendingOut = [];
  }

  /** Reserves `bytes` (uninitialised, at least 4); returns the offset. */
  reserve(bytes: number): number {
    const p = this.top;
    this.top = align(p + Math.max(bytes, 4));
    return p;
  }

  /**
   * Reserves `count` floats, or returns 0 (the kernels' "not wanted") when `wanted` is false. An output the caller
   * preallocated inside this memory (`into`, from allocate()) is written in place instead.
   */
  floats(count: number, wanted = true, into?: Float32Array): number {
    if (!wanted) return 0;
    if (into && this.rt.owns(into)) {
      this.outputsInPlace.push(into);
      return into.byteOffset;
    }
    return this.reserve(count * 4);
  }

  /** Grows the memory once and copies the inputs in. */
  ready(): void {
    // an output written in place must not overlap an input read in place: the kernels read and write in one pass
    for (const o of this.outputsInPlace) {
      for (const i of this.inPlace) {
        if (o.byteOffset < i.byteOffset + i.byteLength && i.byteOffset < o.byteOffset + o.byteLength) {
          throw new GflInputError('options.out', 'an output buffer overlaps an input buffer in gfloss memory');
        }
      }
    }
    this.rt.ensure(this.top);
    this.rt.noteFrameTop(this.top);
    const buf = this.rt.memory.buffer;
    for (const [p, src] of this.copies) {
      if (src instanceof Int32Array) new Int32Array(buf, p, src.length).set(src);
      else new Float32Array(buf, p, src.length).set(src);
    }
  }

  view(ptr: number, count: number): Float32Array {
    return new Float32Array(this.rt.memory.buffer, ptr, count);
  }

  /** Copies `count` floats at ptr into `into` (checked by the caller) or into a new array; `into` written in place is returned as is. */
  take(ptr: number, count: number, into?: Float32Array): Float32Array {
    if (into && into.byteOffset === ptr && this.rt.owns(into)) return into;
    const dst = into ?? new Float32Array(count);
    dst.set(this.view(ptr, count));
    return dst;
  }
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN; // not a bit mask: offsets may pass 2^31
}
