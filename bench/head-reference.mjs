// Plain-JavaScript (float64) references of the two head losses, written from SEMANTICS.md §5 and §7 independently of
// the kernels: the GFL head loss with its gradients (the benchmark's baseline, and a check of the kernels' values),
// and the YOLOv8 loss value (the tests take finite differences of it, with CIoU's α frozen as upstream's no_grad does).
const EPS32 = 1.1920928955078125e-7;

const sigmoid = (x) => 1 / (1 + Math.exp(-x));
const softplus = (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

/** Softmax of n logits at z[o..]: probabilities into p[0..n), returns { yhat, lse }. */
function softmaxSide(z, o, n, p) {
  let m = -Infinity;
  for (let j = 0; j < n; j++) m = Math.max(m, z[o + j]);
  let s = 0, d = 0;
  for (let j = 0; j < n; j++) { const e = Math.exp(z[o + j] - m); p[j] = e; s += e; d += j * e; }
  for (let j = 0; j < n; j++) p[j] /= s;
  return { yhat: d / s, lse: m + Math.log(s) };
}

/**
 * mmdetection GFLHead.loss_by_feat given the assignment. Inputs as gfloss's gflHeadLoss; options: numClasses, bins,
 * avgFactor (QFL), beta, lossWeight { cls, bbox, dfl }.
 */
export function gflHeadReference(input, options) {
  const { clsScore, bboxPred, anchors, stride, labels, labelWeights, bboxTargets } = input;
  const C = options.numClasses, bins = options.bins ?? 17, beta = options.beta ?? 2;
  const lw = { cls: 1, bbox: 2, dfl: 0.25, ...(options.lossWeight ?? {}) };
  const n = labels.length, W = 4 * bins;
  const gradCls = new Float32Array(n * C), gradBox = new Float32Array(n * W);
  const pos = [];
  for (let i = 0; i < n; i++) if (labels[i] >= 0 && labels[i] < C) pos.push(i);
  const avgFactor = options.avgFactor ?? Math.max(pos.length, 1);

  // quality weights (detached) and the bbox normaliser
  const w = pos.map((i) => { let m = -Infinity; for (let j = 0; j < C; j++) m = Math.max(m, clsScore[i * C + j]); return sigmoid(m); });
  const avg = Math.max(w.reduce((a, b) => a + b, 0), 1);
  const boxCoef = lw.bbox / (1 + EPS32) / avg, dflCoef = lw.dfl / (4 + EPS32) / avg;
  const score = new Float64Array(n);
  const probs = [new Float64Array(bins), new Float64Array(bins), new Float64Array(bins), new Float64Array(bins)];
  let sumBox = 0, sumDfl = 0;
  const dmax = bins - 1 - 0.1;
  pos.forEach((i, k) => {
    const s = stride[i];
    const cx = (anchors[4 * i] + anchors[4 * i + 2]) / 2 / s, cy = (anchors[4 * i + 1] + anchors[4 * i + 3]) / 2 / s;
    const t = [bboxTargets[4 * i] / s, bboxTargets[4 * i + 1] / s, bboxTargets[4 * i + 2] / s, bboxTargets[4 * i + 3] / s];
    const corner = [cx - t[0], cy - t[1], t[2] - cx, t[3] - cy].map((v) => Math.min(Math.max(v, 0), dmax));
    const yh = [], lse = [];
    let dfl = 0;
    for (let sd = 0; sd < 4; sd++) {
      const r = softmaxSide(bboxPred, i * W + sd * bins, bins, probs[sd]);
      yh.push(r.yhat); lse.push(r.lse);
      const y = corner[sd], l = Math.floor(y), wl = l + 1 - y, wr = y - l;
      dfl += wl * (r.lse - bboxPred[i * W + sd * bins + l]) + wr * (r.lse - bboxPred[i * W + sd * bins + l + 1]);
    }
    const b = [cx - yh[0], cy - yh[1], cx + yh[2], cy + yh[3]];
    // GIoU (eps 1e-6 via max) and its gradient with respect to the decoded box
    const eps = 1e-6;
    const ix1 = Math.max(b[0], t[0]), iy1 = Math.max(b[1], t[1]), ix2 = Math.min(b[2], t[2]), iy2 = Math.min(b[3], t[3]);
    const iw = Math.max(ix2 - ix1, 0), ih = Math.max(iy2 - iy1, 0), ov = iw * ih;
    const pw = b[2] - b[0], ph = b[3] - b[1];
    const un0 = pw * ph + (t[2] - t[0]) * (t[3] - t[1]) - ov, u = Math.max(un0, eps);
    const iou = ov / u;
    const ex1 = Math.min(b[0], t[0]), ey1 = Math.min(b[1], t[1]), ex2 = Math.max(b[2], t[2]), ey2 = Math.max(b[3], t[3]);
    const ew = Math.max(ex2 - ex1, 0), eh = Math.max(ey2 - ey1, 0), e0 = ew * eh, e = Math.max(e0, eps);
    const giou = iou - (e - u) / e;
    score[i] = iou;
    sumBox += w[k] * (1 - giou);
    sumDfl += w[k] * dfl;
    // backward of boxCoef·w·(1 − giou) = boxCoef·w·(2 − ov/u − u/e)
    const c = boxCoef * w[k];
    const du = un0 >= eps ? c * (ov / (u * u) - 1 / e) : 0;
    const de = e0 >= eps ? c * (u / (e * e)) : 0;
    const dov = -c / u - du;
    const diw = ix2 - ix1 >= 0 ? dov * ih : 0, dih = iy2 - iy1 >= 0 ? dov * iw : 0;
    const dew = de * eh, deh = de * ew;
    const g = [
      -dew * (b[0] <= t[0] ? 1 : 0) - diw * (b[0] >= t[0] ? 1 : 0) - du * ph,
      -deh * (b[1] <= t[1] ? 1 : 0) - dih * (b[1] >= t[1] ? 1 : 0) - du * pw,
      dew * (b[2] >= t[2] ? 1 : 0) + diw * (b[2] <= t[2] ? 1 : 0) + du * ph,
      deh * (b[3] >= t[3] ? 1 : 0) + dih * (b[3] <= t[3] ? 1 : 0) + du * pw,
    ];
    const gy = [-g[0], -g[1], g[2], g[3]];
    const cD = dflCoef * w[k];
    for (let sd = 0; sd < 4; sd++) {
      const y = corner[sd], l = Math.floor(y), wl = l + 1 - y, wr = y - l;
      const o = i * W + sd * bins, q = probs[sd];
      for (let j = 0; j < bins; j++) gradBox[o + j] = q[j] * (cD * (wl + wr) + gy[sd] * (j - yh[sd]));
      gradBox[o + l] -= cD * wl;
      gradBox[o + l + 1] -= cD * wr;
    }
  });

  // QFL over every logit
  const clsScale = lw.cls / (avgFactor + EPS32);
  let sumCls = 0;
  for (let i = 0; i < n; i++) {
    const coef = clsScale * labelWeights[i], t = labels[i];
    let row = 0;
    for (let j = 0; j < C; j++) {
      const x = clsScore[i * C + j], sg = sigmoid(x), sp = softplus(x);
      let L, d;
      if (j === t) {
        const y = score[i], dd = y - sg, a = Math.abs(dd), bce = sp - x * y;
        L = bce * a ** beta;
        d = (sg - y) * a ** beta - (beta === 0 ? 0 : beta * a ** (beta - 1) * Math.sign(dd) * sg * (1 - sg) * bce);
      } else {
        L = sp * sg ** beta;
        d = sg ** (beta + 1) + (beta === 0 ? 0 : beta * sg ** beta * (1 - sg) * sp);
      }
      row += L;
      gradCls[i * C + j] = coef * d;
    }
    sumCls += coef * row;
  }
  const lossBbox = sumBox * boxCoef, lossDfl = sumDfl * dflCoef;
  return { loss: sumCls + lossBbox + lossDfl, lossCls: sumCls, lossBbox, lossDfl, gradClsScore: gradCls, gradBboxPred: gradBox, score, weights: w };
}

/**
 * ultralytics v8DetectionLoss (loss values only). Inputs as gfloss's yoloV8Loss; options: anchorPoints, strideTensor,
 * batchSize, bins, gains, and `alpha` (one CIoU α per foreground anchor, to hold it fixed as upstream's no_grad does;
 * computed when absent and returned).
 */
export function yoloV8Reference(input, options) {
  const { predScores, predDistri, targetBboxes, targetScores, fgMask } = input;
  const { anchorPoints, strideTensor } = options;
  const B = options.batchSize ?? 1, bins = options.bins ?? 16;
  const gains = { box: 7.5, cls: 0.5, dfl: 1.5, ...(options.gains ?? {}) };
  const rows = fgMask.length, A = rows / B, nc = predScores.length / rows, W = 4 * bins;
  let tss = 0;
  for (const v of targetScores) tss += v;
  tss = Math.max(tss, 1);
  let cls = 0;
  for (let i = 0; i < predScores.length; i++) { const x = predScores[i]; cls += softplus(x) - x * targetScores[i]; }
  let box = 0, dfl = 0, k = 0;
  const alphas = [];
  const q = new Float64Array(bins);
  const eps = 1e-7, dmax = bins - 1 - 0.01;
  for (let i = 0; i < rows; i++) {
    if (!fgMask[i]) continue;
    const a = i % A, s = strideTensor[a], ax = anchorPoints[2 * a], ay = anchorPoints[2 * a + 1];
    let w = 0;
    for (let j = 0; j < nc; j++) w += targetScores[i * nc + j];
    const t = [0, 1, 2, 3].map((j) => targetBboxes[4 * i + j] / s);
    const corner = [ax - t[0], ay - t[1], t[2] - ax, t[3] - ay].map((v) => Math.min(Math.max(v, 0), dmax));
    const yh = [];
    let d = 0;
    for (let sd = 0; sd < 4; sd++) {
      const r = softmaxSide(predDistri, i * W + sd * bins, bins, q);
      yh.push(r.yhat);
      const y = corner[sd], l = Math.floor(y), wl = l + 1 - y, wr = 1 - wl;
      d += wl * (r.lse - predDistri[i * W + sd * bins + l]) + wr * (r.lse - predDistri[i * W + sd * bins + l + 1]);
    }
    const b1 = [ax - yh[0], ay - yh[1], ax + yh[2], ay + yh[3]];
    const w1 = b1[2] - b1[0], h1 = b1[3] - b1[1] + eps, w2 = t[2] - t[0], h2 = t[3] - t[1] + eps;
    const inter = Math.max(Math.min(b1[2], t[2]) - Math.max(b1[0], t[0]), 0) * Math.max(Math.min(b1[3], t[3]) - Math.max(b1[1], t[1]), 0);
    const union = w1 * h1 + w2 * h2 - inter + eps, iou = inter / union;
    const cw = Math.max(b1[2], t[2]) - Math.min(b1[0], t[0]), ch = Math.max(b1[3], t[3]) - Math.min(b1[1], t[1]);
    const c2 = cw * cw + ch * ch + eps;
    const rho2 = ((t[0] + t[2] - b1[0] - b1[2]) ** 2 + (t[1] + t[3] - b1[1] - b1[3]) ** 2) / 4;
    const v = (4 / Math.PI ** 2) * (Math.atan(w2 / h2) - Math.atan(w1 / h1)) ** 2;
    const alpha = options.alpha ? options.alpha[k] : v / (v - iou + (1 + eps));
    alphas.push(alpha);
    const ciou = iou - (rho2 / c2 + v * alpha);
    box += (1 - ciou) * w;
    dfl += (d / 4) * w;
    k++;
  }
  const items = [box / tss * gains.box, cls / tss * gains.cls, dfl / tss * gains.dfl];
  return { loss: (items[0] + items[1] + items[2]) * B, lossBox: items[0] * B, lossCls: items[1] * B, lossDfl: items[2] * B, alpha: alphas, targetScoresSum: tss };
}
