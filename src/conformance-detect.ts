// Conformance runners for the assignment, decode and NMS goldens (../shared/goldens2 schema): ATSS targets, the
// task-aligned assigner, GFL predict, mmcv batched_nms, mmdet multiclass_nms and ultralytics' Detect + NMS. Each runs
// the public API and returns every field of the case it can emit: the final fields (labels, weights, targets; kept
// boxes, scores, labels, indices) and the intermediates the API exposes. Not emitted (listed as `unchecked`): ATSS's
// candidate fields in upstream's (K, G) topk layout (`img{b}_candidate_idxs`, `_candidate_overlaps`, `_is_in_gts`,
// `_is_pos`), whose row order among equal distances is unspecified; `img{b}_is_candidate` / `img{b}_is_pos_mask`
// carry the same information order-free and are emitted.
import type { Gfl } from './index.js';
import { f32, i32, decodeTensor, type GoldenCase, type CaseResult } from './conformance.js';
import { anchorPoints } from './ops/anchors.js';

const F = (a: ArrayLike<number>) => Float32Array.from(a);
const S = (v: number) => Float32Array.of(v);
const pairs = (t: GoldenCase['inputs'][string]): Array<[number, number]> => {
  const v = decodeTensor(t);
  return Array.from({ length: v.length / 2 }, (_, i) => [v[2 * i], v[2 * i + 1]]);
};

function atssTargetsCase(g: Gfl, c: GoldenCase): CaseResult {
  const p = c.params;
  const numGts = i32(c.inputs.num_gts);
  const r = g.atssTargetsSync(
    { gtBboxes: f32(c.inputs.gt_bboxes), gtLabels: i32(c.inputs.gt_labels), numGts },
    {
      numClasses: p.num_classes as number, padShape: pairs(c.inputs.pad_shape), featmapSizes: pairs(c.inputs.featmap_sizes),
      strides: p.strides as number[], topk: (p.topk as number) ?? 9, intermediates: true,
      ...(p.octave_base_scale !== undefined ? { octaveBaseScale: p.octave_base_scale as number } : {}),
      ...(p.scales_per_octave !== undefined ? { scalesPerOctave: p.scales_per_octave as number } : {}),
      ...(p.ratios !== undefined ? { ratios: p.ratios as number[] } : {}),
      ...(p.center_offset !== undefined ? { centerOffset: p.center_offset as number } : {}),
    },
  );
  const out: Record<string, Float32Array> = {
    anchors: r.anchors, num_level_anchors: F(r.numLevelAnchors), valid_flags: F(r.validFlags), labels: F(r.labels),
    label_weights: r.labelWeights, bbox_targets: r.bboxTargets, bbox_weights: r.bboxWeights, avg_factor: S(r.avgFactor),
  };
  const unchecked: string[] = [];
  r.images.forEach((im, b) => {
    const k = `img${b}_`;
    out[k + 'num_level_anchors_inside'] = F(im.numLevelAnchorsInside);
    out[k + 'assigned_gt_inds'] = F(im.assignedGtInds);
    out[k + 'max_overlaps'] = im.maxOverlaps;
    out[k + 'assigned_labels'] = F(im.assignedLabels!);
    out[k + 'pos_inds'] = F(im.posInds);
    out[k + 'sampling_avg_factor'] = S(im.avgFactor);
    const it = im.intermediates;
    if (it) {
      out[k + 'overlaps'] = it.overlaps;
      out[k + 'distances'] = it.distances;
      out[k + 'overlaps_mean_per_gt'] = it.overlapsMean;
      out[k + 'overlaps_std_per_gt'] = it.overlapsStd;
      out[k + 'overlaps_thr_per_gt'] = it.overlapsThr;
      out[k + 'is_candidate'] = F(it.isCandidate);
      out[k + 'is_pos_mask'] = F(it.isPos);
    }
    for (const f of ['candidate_idxs', 'candidate_overlaps', 'is_in_gts', 'is_pos']) if (c.outputs[k + f]) unchecked.push(k + f);
  });
  return { outputs: out, grads: {}, unchecked };
}

function talCase(g: Gfl, c: GoldenCase): CaseResult {
  const p = c.params;
  const r = g.taskAlignedAssignSync(
    {
      pdScores: f32(c.inputs.pd_scores), pdBboxes: f32(c.inputs.pd_bboxes), anchorPoints: f32(c.inputs.anc_points),
      gtLabels: f32(c.inputs.gt_labels), gtBboxes: f32(c.inputs.gt_bboxes), maskGt: f32(c.inputs.mask_gt),
    },
    { topk: (p.topk as number) ?? 10, alpha: (p.alpha as number) ?? 0.5, beta: (p.beta as number) ?? 6, eps: (p.eps as number) ?? 1e-9, intermediates: true },
  );
  const ap = anchorPoints({ featShapes: p.feat_shapes_HW as Array<[number, number]>, strides: p.strides as number[] });
  const it = r.intermediates!;
  return {
    outputs: {
      target_labels: F(r.targetLabels), target_bboxes: r.targetBboxes, target_scores: r.targetScores, fg_mask: F(r.fgMask),
      target_gt_idx: F(r.targetGtIdx), make_anchors_points: ap.points, make_anchors_stride: ap.strides,
      mask_in_gts: it.maskInGts, align_metric: it.alignMetric, overlaps: it.overlaps,
      mask_pos_before_highest: it.maskPosBeforeHighest, mask_pos: it.maskPos, norm_align_metric: it.normAlignMetric,
    },
    grads: {},
  };
}

function gflPredictCase(g: Gfl, c: GoldenCase): CaseResult {
  const p = c.params;
  const cfg = p.test_cfg as { nms_pre: number; min_bbox_size: number; score_thr: number; nms: { iou_threshold: number }; max_per_img: number };
  const B = c.inputs.cls_score.shape[0];
  const imgs = g.gflPredictSync(
    { clsScores: f32(c.inputs.cls_score), bboxPreds: f32(c.inputs.bbox_pred) },
    {
      featmapSizes: p.featmap_sizes as Array<[number, number]>, strides: p.strides as number[], imgShape: p.img_shape as [number, number],
      batchSize: B, bins: (p.reg_max as number) + 1, scoreThr: cfg.score_thr, nmsPre: cfg.nms_pre, minBboxSize: cfg.min_bbox_size,
      iouThreshold: cfg.nms.iou_threshold, maxPerImg: cfg.max_per_img, intermediates: true,
    },
  );
  const out: Record<string, Float32Array> = {};
  imgs.forEach((im, b) => {
    const k = `img${b}_`, it = im.intermediates!;
    Object.assign(out, {
      [k + 'det_bboxes']: im.bboxes, [k + 'det_scores']: im.scores, [k + 'det_labels']: F(im.labels),
      [k + 'pre_nms_bboxes']: it.preNmsBboxes, [k + 'pre_nms_scores']: it.preNmsScores, [k + 'pre_nms_labels']: F(it.preNmsLabels),
      [k + 'pre_nms_anchor_idx']: F(it.preNmsAnchorIdx), [k + 'nms_in_boxes']: it.nmsInBoxes, [k + 'nms_in_scores']: it.nmsInScores,
      [k + 'nms_in_labels']: F(it.nmsInLabels), [k + 'nms_boxes_for_nms']: it.nmsBoxesForNms, [k + 'nms_keep']: F(it.nmsKeep),
    });
  });
  return { outputs: out, grads: {} };
}

function batchedNmsCase(g: Gfl, c: GoldenCase): CaseResult {
  const cfg = c.params.nms_cfg as { iou_threshold: number };
  const r = g.batchedNmsSync(
    { boxes: f32(c.inputs.boxes), scores: f32(c.inputs.scores), idxs: i32(c.inputs.idxs) },
    { iouThreshold: cfg.iou_threshold, classAgnostic: c.params.class_agnostic === true, returnBoxesForNms: true },
  );
  const out: Record<string, Float32Array> = { dets: r.dets, keep: F(r.keep) };
  if (r.boxesForNms) out.boxes_for_nms = r.boxesForNms;
  return { outputs: out, grads: {} };
}

function multiclassNmsCase(g: Gfl, c: GoldenCase): CaseResult {
  const p = c.params;
  const r = g.multiclassNmsSync(
    { bboxes: f32(c.inputs.multi_bboxes), scores: f32(c.inputs.multi_scores) },
    {
      numClasses: c.inputs.multi_scores.shape[1] - 1, scoreThr: p.score_thr as number,
      iouThreshold: (p.nms_cfg as { iou_threshold: number }).iou_threshold, maxNum: (p.max_num as number) ?? -1, intermediates: true,
    },
  );
  const it = r.intermediates!;
  return {
    outputs: {
      dets: r.dets, labels: F(r.labels), inds: F(r.inds), nms_in_boxes: it.nmsInBoxes, nms_in_scores: it.nmsInScores,
      nms_in_labels: F(it.nmsInLabels), nms_keep: F(it.nmsKeep),
    },
    grads: {},
  };
}

interface NmsCfg { conf_thres: number; iou_thres: number; agnostic?: boolean; multi_label?: boolean; max_det?: number }

function ultralyticsCase(g: Gfl, c: GoldenCase): CaseResult {
  const p = c.params;
  const out: Record<string, Float32Array> = {};
  let prediction: Float32Array, B: number, nc: number;
  if (c.inputs.x_cat) {
    B = c.inputs.x_cat.shape[0];
    const d = g.yoloDecodeSync({ xCat: f32(c.inputs.x_cat) }, {
      featShapes: p.feat_shapes_HW as Array<[number, number]>, strides: p.strides as number[], regMax: (p.reg_max as number) ?? 16, batchSize: B,
    });
    prediction = d.prediction;
    nc = d.numClasses;
    const A = d.strides.length;
    const grid = new Float32Array(2 * A);
    for (let a = 0; a < A; a++) { grid[a] = d.anchorPoints[2 * a]; grid[A + a] = d.anchorPoints[2 * a + 1]; }
    Object.assign(out, { prediction, anchors_grid: grid, strides: d.strides });
  } else {
    prediction = f32(c.inputs.prediction);
    [B] = c.inputs.prediction.shape;
    nc = c.inputs.prediction.shape[1] - 4;
  }
  for (const [name, cfg] of Object.entries(p.nms_configs as Record<string, NmsCfg>)) {
    const imgs = g.yoloNmsSync({ prediction }, {
      batchSize: B, numClasses: nc, confThres: cfg.conf_thres, iouThres: cfg.iou_thres, agnostic: cfg.agnostic === true,
      multiLabel: cfg.multi_label === true, maxDet: cfg.max_det ?? 300, maxNms: (p.max_nms as number) ?? 30000, maxWh: (p.max_wh as number) ?? 7680,
    });
    imgs.forEach((im, b) => {
      out[`${name}_det_img${b}`] = im.det;
      out[`${name}_keep_img${b}`] = F(im.keep);
    });
  }
  return { outputs: out, grads: {} };
}

export const DETECT_RUNNERS: Record<string, (g: Gfl, c: GoldenCase) => CaseResult> = {
  'mmdet.GFLHead.get_targets(ATSSAssigner topk=9, PseudoSampler)': atssTargetsCase,
  'ultralytics.utils.tal.TaskAlignedAssigner': talCase,
  'mmdet.GFLHead.predict_by_feat (decode + batched_nms)': gflPredictCase,
  'mmcv.ops.batched_nms': batchedNmsCase,
  'mmdet.multiclass_nms': multiclassNmsCase,
  'ultralytics.nn.modules.head.Detect._inference + ultralytics.utils.ops.non_max_suppression': ultralyticsCase,
  'ultralytics.utils.ops.non_max_suppression': ultralyticsCase,
};
