// The kernel module: every export takes byte offsets into linear memory and scalars, allocates nothing and keeps
// no state, so one compiled module serves the scalar, SIMD and SIMD + threads builds (see asconfig.json).

export { qflLogits, qflLogitsDense, qflProb, qflScoreCheck } from "./qfl";
export { sigmoidFocal } from "./focal";
export { dfl } from "./dfl";
export { integral } from "./integral";
export { giou } from "./giou";
export { ciou } from "./ciou";
export { gflGeneral } from "./gfl";
export { gflHeadGather, gflHeadPositives } from "./gfl-head";
export { yoloV8Positives, unitIntervalSum } from "./yolo";
export { atssAssign, atssAssignBatch } from "./atss";
export { talAssign } from "./tal";
export { nms } from "./nms";
export { gflLevelTopk, gflDecode, yoloDecode, yoloCandidates } from "./decode";
export { zeroBytes, expandRows } from "./rows";

/** First byte above the module's own static area: JavaScript carves its buffers from here up. */
export function heapBase(): usize {
  return __heap_base;
}
