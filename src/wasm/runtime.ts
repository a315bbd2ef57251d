// One kernel instance and the linear memory it works on. JavaScript owns the memory layout: every call carves its
// buffers from `heapBase` upward in a frame, grows the memory once if the frame does not fit, copies the inputs in,
// runs one kernel and copies the outputs out. Nothing is kept between calls, so a call that throws leaves nothing
// behind; the memory stays at its high-water mark, so a training loop stops growing it after the first step.

export interface KernelExports {
  heapBase(): number;
  qflLogits(pred: number, label: number, score: number, coef: number, rowLoss: number, elemLoss: number,
    gradPred: number, gradScore: number, rows: number, cols: number, beta: number): number;
  qflLogitsDense(pred: number, target: number, coef: number, rowLoss: number, elemLoss: number,
    gradPred: number, gradTarget: number, rows: number, cols: number, beta: number): number;
  qflProb(pred: number, label: number, score: number, target: number, coef: number, rowLoss: number, elemLoss: number,
    gradPred: number, gradTarget: number, rows: number, cols: number, beta: number): number;
  sigmoidFocal(pred: number, label: number, coef: number, elemCoef: number, rowLoss: number, elemLoss: number,
    gradPred: number, rows: number, cols: number, alpha: number, gamma: number): number;
  dfl(pred: number, target: number, coef: number, rowLoss: number, gradPred: number, gradTarget: number,
    rows: number, bins: number, convention: number): number;
  integral(x: number, y: number, gradY: number, gradX: number, scratch: number, rows: number, bins: number): void;
  giou(pred: number, target: number, coef: number, rowLoss: number, iouOut: number, giouOut: number,
    gradPred: number, gradTarget: number, rows: number, eps: number, plusOne: number): number;
  ciou(box1: number, box2: number, coef: number, rowLoss: number, ciouOut: number, iouOut: number, giouOut: number,
    grad1: number, grad2: number, rows: number, eps: number): number;
  gflGeneral(probLeft: number, probRight: number, yLeft: number, yRight: number, y: number, coef: number,
    rowLoss: number, gradLeft: number, gradRight: number, rows: number, beta: number): number;
}

const PAGE = 65536;
const ALIGN = 16;

export class WasmRuntime {
  readonly memory: WebAssembly.Memory;
  readonly kernels: KernelExports;
  private readonly base: number;

  constructor(module: WebAssembly.Module, shared: boolean) {
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

  frame(): Frame {
    return new Frame(this, this.base);
  }

  /** Grows the memory so that [0, end) is addressable. */
  ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE));
  }
}

type Numeric = Float32Array | Int32Array;

/** The buffers of one kernel call. Reserve everything first, then `ready()`, then take views. */
export class Frame {
  private top: number;
  private readonly copies: Array<[number, Numeric]> = [];

  constructor(private readonly rt: WasmRuntime, base: number) {
    this.top = base;
  }

  /** Reserves room for `src` and schedules its copy; returns its offset. */
  input(src: Numeric): number {
    const p = this.reserve(src.byteLength);
    this.copies.push([p, src]);
    return p;
  }

  /** Reserves `bytes` (uninitialised, at least 4); returns the offset. */
  reserve(bytes: number): number {
    const p = this.top;
    this.top = align(p + Math.max(bytes, 4));
    return p;
  }

  /** Reserves `count` floats, or returns 0 (the kernels' "not wanted") when `wanted` is false. */
  floats(count: number, wanted = true): number {
    return wanted ? this.reserve(count * 4) : 0;
  }

  /** Grows the memory once and copies the inputs in. */
  ready(): void {
    this.rt.ensure(this.top);
    const buf = this.rt.memory.buffer;
    for (const [p, src] of this.copies) {
      if (src instanceof Int32Array) new Int32Array(buf, p, src.length).set(src);
      else new Float32Array(buf, p, src.length).set(src);
    }
  }

  view(ptr: number, count: number): Float32Array {
    return new Float32Array(this.rt.memory.buffer, ptr, count);
  }

  /** Copies `count` floats at ptr into `into` (checked by the caller) or into a new array. */
  take(ptr: number, count: number, into?: Float32Array): Float32Array {
    const dst = into ?? new Float32Array(count);
    dst.set(this.view(ptr, count));
    return dst;
  }
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN; // not a bit mask: offsets may pass 2^31
}
