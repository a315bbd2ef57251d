// gfloss: the losses of Generalized Focal Loss as fused forward + gradient WebAssembly kernels.
//
//   const gfl = await createGfl();                 // or createGflSync(); { backend: 'wasm-scalar' } to force one
//   const { loss, gradPred } = gfl.qualityFocalLossSync({ pred, label, score }, { beta: 2, avgFactor });
//
// Every loss has a synchronous method (`…Sync`) and an asynchronous twin with the same arguments and result.
import { getCapabilities, logicalProcessors, type Capabilities } from './capabilities.js';
import { chooseBackend, availableBackends, type BackendName } from './backend.js';
import { embeddedModule, moduleFrom, moduleFromUrl } from './wasm/load.js';
import { GflInputError } from './errors.js';
import { WasmRuntime, runOp, type Op } from './wasm/runtime.js';
import { ThreadPool, GflThreadsError } from './wasm/pool.js';
import { plainObject, knownKeys } from './validate.js';
import { qualityFocalLoss, qualityFocalLossDense, type QflInput, type QflDenseInput, type QflOptions, type QflResult } from './ops/qfl.js';
import { sigmoidFocalLoss, type FocalInput, type FocalOptions, type FocalResult } from './ops/focal.js';
import { distributionFocalLoss, type DflInput, type DflOptions, type DflResult } from './ops/dfl.js';
import { integral, type IntegralInput, type IntegralOptions, type IntegralResult } from './ops/integral.js';
import { giouLoss, ciouLoss, type BoxPairInput, type GiouOptions, type CiouOptions, type BoxLossResult } from './ops/boxes.js';
import { generalizedFocalLoss, type GflGeneralInput, type GflGeneralOptions, type GflGeneralResult } from './ops/gfl.js';
import { gflHeadLoss, type GflHeadInput, type GflHeadOptions, type GflHeadResult, type GflHeadIntermediates } from './ops/gfl-head.js';
import { yoloV8Loss, type YoloV8Input, type YoloV8Options, type YoloV8Result, type YoloV8Intermediates } from './ops/yolo.js';
import { atssAssign, atssTargets, taskAlignedAssign, type AtssAssignInput, type AtssOptions, type AtssAssignResult, type AtssIntermediates, type AtssTargetsInput, type AtssTargetsOptions, type AtssTargetsResult, type AtssImageResult, type TalInput, type TalOptions, type TalResult, type TalIntermediates } from './ops/assign.js';
import { batchedNms, multiclassNms, yoloNms, type BatchedNmsInput, type BatchedNmsOptions, type BatchedNmsResult, type MulticlassNmsInput, type MulticlassNmsOptions, type MulticlassNmsResult, type YoloNmsInput, type YoloNmsOptions, type YoloNmsImage } from './ops/nms.js';
import { gflPredict, yoloDecode, type GflPredictInput, type GflPredictOptions, type GflPredictImage, type GflPredictIntermediates, type YoloDecodeInput, type YoloDecodeOptions, type YoloDecodeResult } from './ops/decode.js';
import { gflStep, StepCache, type GflStepInput, type GflStepOptions, type GflStepResult } from './ops/step.js';

export { GflInputError } from './errors.js';
export { GflThreadsError };
export { getCapabilities, availableBackends };
export { FLOAT32_EPS } from './ops/reduce.js';
export type { Capabilities, BackendName };
export type { ReduceOptions } from './ops/reduce.js';
export type { Reduction } from './validate.js';
export type {
  QflInput, QflDenseInput, QflOptions, QflResult, FocalInput, FocalOptions, FocalResult, DflInput, DflOptions, DflResult,
  IntegralInput, IntegralOptions, IntegralResult, BoxPairInput, GiouOptions, CiouOptions, BoxLossResult,
  GflGeneralInput, GflGeneralOptions, GflGeneralResult,
};
export type { GflHeadInput, GflHeadOptions, GflHeadResult, GflHeadIntermediates, YoloV8Input, YoloV8Options, YoloV8Result, YoloV8Intermediates };
export { gflAnchors, anchorValidFlags, anchorPoints, featmapSizesFor } from './ops/anchors.js';
export type { GflAnchorOptions, GflAnchors, AnchorPointOptions, AnchorPoints } from './ops/anchors.js';
export type {
  AtssAssignInput, AtssOptions, AtssAssignResult, AtssIntermediates, AtssTargetsInput, AtssTargetsOptions, AtssTargetsResult, AtssImageResult,
  TalInput, TalOptions, TalResult, TalIntermediates, BatchedNmsInput, BatchedNmsOptions, BatchedNmsResult, MulticlassNmsInput,
  MulticlassNmsOptions, MulticlassNmsResult, YoloNmsInput, YoloNmsOptions, YoloNmsImage, GflPredictInput, GflPredictOptions, GflPredictImage,
  GflPredictIntermediates, YoloDecodeInput, YoloDecodeOptions, YoloDecodeResult,
};
export type { GflStepInput, GflStepOptions, GflStepResult };

export interface CreateGflOptions {
  /**
   * 'auto' (default: 'wasm-simd-threads' from createGfl where threads, workers and more than one logical processor
   * exist, else 'wasm-simd' where SIMD is supported, else 'wasm-scalar'), or one of them forced.
   */
  backend?: BackendName | 'auto';
  /**
   * Threads that run the kernels, the calling thread included ('wasm-simd-threads'; default: the logical processors).
   * With 'auto', 1 means single-threaded SIMD.
   */
  threads?: number;
  /** URL of the pool's worker script (default: `wasm/worker.js` next to the package's index.js), for bundlers that move it. */
  workerUrl?: string | URL;
  /**
   * The kernel module for the chosen backend, instead of the embedded one: a precompiled WebAssembly.Module (edge
   * runtimes that forbid compiling from bytes) or the bytes of `gfloss-simd.wasm` / `gfloss.wasm`. The threads build
   * (`gfloss-simd-threads.wasm`, which imports shared memory) is accepted too and then runs on the calling thread.
   */
  wasmModule?: WebAssembly.Module | ArrayBuffer | ArrayBufferView;
  /**
   * Fetch and compile the kernel module from this URL instead of the embedded copy (createGfl only): the file for the
   * chosen backend, `gfloss/wasm/gfloss-simd.wasm` or `gfloss/wasm/gfloss.wasm`, served as `application/wasm`.
   * Relative URLs resolve against the page.
   */
  wasmUrl?: string | URL;
}

export class Gfl {
  /** The backend in use. */
  readonly backend: BackendName;
  /** Why this backend was chosen. */
  readonly backendReason: string;
  /** Threads that run the kernels, the calling thread included (1 on the single-thread backends). */
  readonly threads: number;
  private readonly rt: WasmRuntime;
  /** step(): the target layout buffers of the last shape, reused while the shape stays the same. */
  private readonly stepCache = new StepCache();
  private pool: ThreadPool | undefined;
  private readonly poolStart: { module: WebAssembly.Module; workerUrl?: URL } | undefined;

  /** @internal use createGfl() or createGflSync(); `context` is createGfl's (absent: synchronous, single-threaded) */
  constructor(options?: CreateGflOptions, context?: { cores: number; note?: string }) {
    const o = plainObject('options', options);
    knownKeys('options', o, ['backend', 'wasmModule', 'wasmUrl', 'threads', 'workerUrl']);
    if (o.wasmUrl !== undefined) throw new GflInputError('options.wasmUrl', 'loading from a URL is asynchronous: use createGfl(), not createGflSync()');
    const choice = chooseBackend(o.backend, getCapabilities(), { threads: o.threads, cores: context?.cores ?? 1, sync: context === undefined });
    const workerUrl = o.workerUrl === undefined ? undefined : urlOption('options.workerUrl', o.workerUrl);
    const module = o.wasmModule === undefined ? embeddedModule(choice.build) : moduleFrom('options.wasmModule', o.wasmModule);
    this.backend = choice.name;
    this.backendReason = choice.reason + (context?.note ? `; ${context.note}` : '');
    this.threads = choice.threads;
    this.rt = WasmRuntime.create(module);
    if (choice.name === 'wasm-simd-threads') {
      if (!(this.rt.memory.buffer instanceof SharedArrayBuffer)) {
        throw new GflInputError('options.wasmModule', "'wasm-simd-threads' needs gfloss-simd-threads.wasm (the build that imports a shared memory)");
      }
      this.poolStart = { module, ...(workerUrl ? { workerUrl } : {}) };
    }
    if (choice.warning) warnOnce(choice.warning);
  }

  /** @internal starts the workers of 'wasm-simd-threads' (createGfl) */
  async startThreads(): Promise<void> {
    if (this.poolStart && !this.pool) this.pool = await ThreadPool.create(this.rt, this.poolStart.module, { threads: this.threads, ...this.poolStart });
  }

  /** @internal the thread pool, for tests */
  get threadPool(): ThreadPool | undefined {
    return this.pool;
  }

  /** Quality Focal Loss with (label, score) targets, on logits or (`activated`) probabilities. */
  qualityFocalLossSync(input: QflInput, options?: QflOptions): QflResult { return runOp(this.rt, qualityFocalLoss(this.rt, input, options)); }
  qualityFocalLoss(input: QflInput, options?: QflOptions): Promise<QflResult> { return this.runAsync(qualityFocalLoss(this.rt, input, options)); }

  /** Quality Focal Loss with a dense N × C soft target (`options.numClasses` required). */
  qualityFocalLossDenseSync(input: QflDenseInput, options: QflOptions): QflResult { return runOp(this.rt, qualityFocalLossDense(this.rt, input, options)); }
  qualityFocalLossDense(input: QflDenseInput, options: QflOptions): Promise<QflResult> { return this.runAsync(qualityFocalLossDense(this.rt, input, options)); }

  /** Sigmoid focal loss (α, γ). */
  sigmoidFocalLossSync(input: FocalInput, options?: FocalOptions): FocalResult { return runOp(this.rt, sigmoidFocalLoss(this.rt, input, options)); }
  sigmoidFocalLoss(input: FocalInput, options?: FocalOptions): Promise<FocalResult> { return this.runAsync(sigmoidFocalLoss(this.rt, input, options)); }

  /** Distribution Focal Loss over `options.bins` bins. */
  distributionFocalLossSync(input: DflInput, options: DflOptions): DflResult { return runOp(this.rt, distributionFocalLoss(this.rt, input, options)); }
  distributionFocalLoss(input: DflInput, options: DflOptions): Promise<DflResult> { return this.runAsync(distributionFocalLoss(this.rt, input, options)); }

  /** The paper's general GFL form for two values y_l < y_r. */
  generalizedFocalLossSync(input: GflGeneralInput, options?: GflGeneralOptions): GflGeneralResult { return runOp(this.rt, generalizedFocalLoss(this.rt, input, options)); }
  generalizedFocalLoss(input: GflGeneralInput, options?: GflGeneralOptions): Promise<GflGeneralResult> { return this.runAsync(generalizedFocalLoss(this.rt, input, options)); }

  /** Integral (softmax expectation per row) and, with `options.gradOutput`, its vector–Jacobian product. */
  integralSync(input: IntegralInput, options: IntegralOptions): IntegralResult { return runOp(this.rt, integral(this.rt, input, options)); }
  integral(input: IntegralInput, options: IntegralOptions): Promise<IntegralResult> { return this.runAsync(integral(this.rt, input, options)); }

  /** GIoU loss (mmdetection; or the official GFocal "+1" convention). */
  giouLossSync(input: BoxPairInput, options?: GiouOptions): BoxLossResult { return runOp(this.rt, giouLoss(this.rt, input, options)); }
  giouLoss(input: BoxPairInput, options?: GiouOptions): Promise<BoxLossResult> { return this.runAsync(giouLoss(this.rt, input, options)); }

  /** 1 − CIoU as ultralytics computes it. */
  ciouLossSync(input: BoxPairInput, options?: CiouOptions): BoxLossResult { return runOp(this.rt, ciouLoss(this.rt, input, options)); }
  ciouLoss(input: BoxPairInput, options?: CiouOptions): Promise<BoxLossResult> { return this.runAsync(ciouLoss(this.rt, input, options)); }

  /** The whole GFL head loss (mmdetection GFLHead.loss_by_feat) given the assignment: losses and both head gradients. */
  gflHeadLossSync(input: GflHeadInput, options?: GflHeadOptions): GflHeadResult { return runOp(this.rt, gflHeadLoss(this.rt, input, options)); }
  gflHeadLoss(input: GflHeadInput, options?: GflHeadOptions): Promise<GflHeadResult> { return this.runAsync(gflHeadLoss(this.rt, input, options)); }

  /** The YOLOv8 detection loss (ultralytics v8DetectionLoss) given the assignment: losses and both head gradients. */
  yoloV8LossSync(input: YoloV8Input, options?: YoloV8Options): YoloV8Result { return runOp(this.rt, yoloV8Loss(this.rt, input, options)); }
  yoloV8Loss(input: YoloV8Input, options?: YoloV8Options): Promise<YoloV8Result> { return this.runAsync(yoloV8Loss(this.rt, input, options)); }

  /** ATSS assignment (mmdetection ATSSAssigner, topk 9) of one image's anchors to its gt boxes. */
  atssAssignSync(input: AtssAssignInput, options?: AtssOptions): AtssAssignResult { return runOp(this.rt, atssAssign(this.rt, input, options)); }
  atssAssign(input: AtssAssignInput, options?: AtssOptions): Promise<AtssAssignResult> { return this.runAsync(atssAssign(this.rt, input, options)); }

  /** GFL training targets for a batch (mmdetection GFLHead.get_targets: GFL anchors, ATSS, PseudoSampler). */
  atssTargetsSync(input: AtssTargetsInput, options: AtssTargetsOptions): AtssTargetsResult { return runOp(this.rt, atssTargets(this.rt, input, options)); }
  atssTargets(input: AtssTargetsInput, options: AtssTargetsOptions): Promise<AtssTargetsResult> { return this.runAsync(atssTargets(this.rt, input, options)); }

  /** Task-aligned assignment (ultralytics TaskAlignedAssigner, topk 10, α 0.5, β 6) for a batch. */
  taskAlignedAssignSync(input: TalInput, options?: TalOptions): TalResult { return runOp(this.rt, taskAlignedAssign(this.rt, input, options)); }
  taskAlignedAssign(input: TalInput, options?: TalOptions): Promise<TalResult> { return this.runAsync(taskAlignedAssign(this.rt, input, options)); }

  /** GFL inference (mmdetection GFLHead.predict_by_feat): decode, score threshold, nms_pre, class-aware NMS, max_per_img. */
  gflPredictSync(input: GflPredictInput, options: GflPredictOptions): GflPredictImage[] { return runOp(this.rt, gflPredict(this.rt, input, options)); }
  gflPredict(input: GflPredictInput, options: GflPredictOptions): Promise<GflPredictImage[]> { return this.runAsync(gflPredict(this.rt, input, options)); }

  /** ultralytics Detect._inference: DFL decode to xywh pixels and class probabilities. */
  yoloDecodeSync(input: YoloDecodeInput, options: YoloDecodeOptions): YoloDecodeResult { return runOp(this.rt, yoloDecode(this.rt, input, options)); }
  yoloDecode(input: YoloDecodeInput, options: YoloDecodeOptions): Promise<YoloDecodeResult> { return this.runAsync(yoloDecode(this.rt, input, options)); }

  /** ultralytics non_max_suppression (class offset 7680, predict or multi-label mode). */
  yoloNmsSync(input: YoloNmsInput, options?: YoloNmsOptions): YoloNmsImage[] { return runOp(this.rt, yoloNms(this.rt, input, options)); }
  yoloNms(input: YoloNmsInput, options?: YoloNmsOptions): Promise<YoloNmsImage[]> { return this.runAsync(yoloNms(this.rt, input, options)); }

  /** mmcv batched_nms (class offset label·(max + 1)). */
  batchedNmsSync(input: BatchedNmsInput, options?: BatchedNmsOptions): BatchedNmsResult { return runOp(this.rt, batchedNms(this.rt, input, options)); }
  batchedNms(input: BatchedNmsInput, options?: BatchedNmsOptions): Promise<BatchedNmsResult> { return this.runAsync(batchedNms(this.rt, input, options)); }

  /** mmdetection multiclass_nms (score threshold, batched NMS, max_num). */
  multiclassNmsSync(input: MulticlassNmsInput, options?: MulticlassNmsOptions): MulticlassNmsResult { return runOp(this.rt, multiclassNms(this.rt, input, options)); }
  multiclassNms(input: MulticlassNmsInput, options?: MulticlassNmsOptions): Promise<MulticlassNmsResult> { return this.runAsync(multiclassNms(this.rt, input, options)); }

  /**
   * One GFL training step: GFL anchors, ATSS targets and the GFL head loss, from the head outputs (rows level-major,
   * then image, y, x) and each image's gt boxes and labels: the losses and the gradients for both head outputs.
   */
  stepSync(input: GflStepInput, options?: GflStepOptions): GflStepResult { return runOp(this.rt, gflStep(this.rt, this.stepCache, input, options)); }
  step(input: GflStepInput, options?: GflStepOptions): Promise<GflStepResult> { return this.runAsync(gflStep(this.rt, this.stepCache, input, options)); }

  /**
   * A buffer inside gfloss's own memory, for zero-copy calls: an input that is such a view is read in place, and an
   * `out` array that is such a view is written in place, so a training loop that keeps its logits and gradients in
   * allocated buffers moves no data in or out. Needs shared memory, where views stay valid while the memory grows:
   * the 'wasm-simd-threads' backend (`threads: 1` runs it on the calling thread only, bit for bit the same as
   * 'wasm-simd'). Plain WebAssembly memory detaches every view when it grows, so the other backends throw here.
   * Allocated memory is not released before the instance is.
   */
  allocate(length: number): Float32Array;
  allocate(length: number, type: 'float32'): Float32Array;
  allocate(length: number, type: 'int32'): Int32Array;
  allocate(length: number, type: 'float32' | 'int32' = 'float32'): Float32Array | Int32Array {
    if (typeof length !== 'number' || !Number.isInteger(length) || length < 0) {
      throw new GflInputError('length', `expected a non-negative integer, got ${String(length)}`);
    }
    if (type !== 'float32' && type !== 'int32') throw new GflInputError('type', `expected 'float32' or 'int32', got ${String(type)}`);
    if (!this.rt.isShared()) {
      throw new GflInputError('allocate', `needs shared memory, which ${this.backend} does not use: create the instance with createGfl({ backend: 'wasm-simd-threads' }) (threads: 1 for the calling thread only)`);
    }
    const p = this.rt.allocate(length * 4);
    return type === 'int32' ? new Int32Array(this.rt.memory.buffer, p, length) : new Float32Array(this.rt.memory.buffer, p, length);
  }

  /**
   * The one asynchronous driver: every async method goes through here. On the single-thread backends it runs the op
   * on the calling thread. On 'wasm-simd-threads' the calls queue (one frame region per instance) and large kernel
   * calls are split over the pool; a synchronous call made meanwhile stages its buffers above the queued call's.
   */
  private async runAsync<R>(op: Op<R>): Promise<R> {
    if (this.pool) return this.pool.drive(op);
    return runOp(this.rt, op);
  }

  /**
   * Ends the worker threads ('wasm-simd-threads'); resolves when they have exited. Async calls still queued or running
   * reject with GflThreadsError. Synchronous calls keep working (they never used the workers).
   */
  dispose(): Promise<void> {
    return this.pool ? this.pool.dispose() : Promise.resolve();
  }
}

const warned = new Set<string>();
function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.warn(message);
}

function urlOption(name: string, v: unknown): URL {
  if (typeof v === 'string' || (v !== null && typeof v === 'object' && typeof (v as URL).href === 'string')) {
    const base = (globalThis as { location?: { href?: string } }).location?.href;
    try {
      return new URL(typeof v === 'string' ? v : (v as URL).href, base);
    } catch { /* reported below */ }
  }
  throw new GflInputError(name, `expected a URL or a URL string, got ${String(v)}`);
}

/** Creates an instance; the backend is chosen from the runtime's capabilities unless forced. */
export async function createGfl(options?: CreateGflOptions): Promise<Gfl> {
  if (options !== null && typeof options === 'object' && options.wasmUrl !== undefined) {
    const { wasmUrl, ...rest } = options;
    if (rest.wasmModule !== undefined) throw new GflInputError('options.wasmUrl', 'give wasmUrl or wasmModule, not both');
    return createGfl({ ...rest, wasmModule: await moduleFromUrl('options.wasmUrl', wasmUrl) });
  }
  const cores = await logicalProcessors();
  const g = new Gfl(options, { cores });
  try {
    await g.startThreads();
  } catch (e) {
    await g.dispose();
    const o = options as CreateGflOptions | undefined;
    if (o?.backend !== undefined && o.backend !== 'auto') throw e;
    // 'auto' never fails for want of workers (a bundler that dropped worker.js, a policy that forbids workers)
    const note = `worker threads could not start (${(e as Error).message}), so single-threaded`;
    warnOnce(`gfloss: ${note}`);
    return new Gfl({ ...o, threads: 1 }, { cores, note });
  }
  return g;
}

/** Synchronous twin of createGfl (compiles the embedded module synchronously). */
export function createGflSync(options?: CreateGflOptions): Gfl {
  return new Gfl(options);
}

