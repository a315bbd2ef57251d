// What the benchmarks share: a seeded generator, normal variates, and the plain-JavaScript fused QFL (forward +
// gradient in one pass, float64 math) that they measure gfloss against: mmdetection v3.1 quality_focal_loss with the scale factors not detached, reduction 'mean' with avgFactor
// (coef = 1/(avgFactor + ε) multiplies loss and gradients). 
//
// Per element, σ = sigmoid(x), sp = softplus(x), y = score, d = y − σ:
//   negative  L = sp·σ^β              ∂L/∂x = σ^(β+1) + β·σ^β·(1−σ)·sp     (scale factor σ^β not detached)
//   positive  L = (sp − x·y)·|d|^β    ∂L/∂x = (σ−y)·|d|^β − β|d|^(β−1)·sign(d)·σ(1−σ)·BCE
//                                     ∂L/∂y = −x·|d|^β + β|d|^(β−1)·sign(d)·BCE

export function qflJs(pred, label, score, n, c, beta, coef, gradPred, gradScore) {
  if (beta === 2) return qflJsBeta2(pred, label, score, n, c, coef, gradPred, gradScore);
  return qflJsGeneral(pred, label, score, n, c, beta, coef, gradPred, gradScore);
}

/** β = 2 written out with multiplications, as a JS author would (the wasm kernels specialise β = 2 as well). */
function qflJsBeta2(pred, label, score, n, c, coef, gradPred, gradScore) {
  let total = 0;
  for (let i = 0; i < n; i++) {
    const t = label[i];
    const pos = t >= 0 && t < c ? t : -1;
    const y = pos >= 0 ? score[i] : 0;
    const off = i * c;
    let rowSum = 0;
    let gy = 0;
    for (let j = 0; j < c; j++) {
      const x = pred[off + j];
      const e = Math.exp(-Math.abs(x));
      const r = 1 / (1 + e);
      const sig = x >= 0 ? r : e * r;
      const oms = x >= 0 ? e * r : r;
      const sp = (x > 0 ? x : 0) + Math.log1p(e);
      if (j !== pos) {
        const s2 = sig * sig;
        rowSum += sp * s2;
        gradPred[off + j] = coef * (s2 * sig + 2 * s2 * oms * sp);
      } else {
        const d = y - sig;
        const d2 = d * d;
        const bce = sp - x * y;
        rowSum += bce * d2;
        // β|d|^(β−1)·sign(d) = 2d for β = 2
        gradPred[off + j] = coef * ((sig - y) * d2 - 2 * d * sig * oms * bce);
        gy = coef * (2 * d * bce - x * d2);
      }
    }
    gradScore[i] = gy;
    total += rowSum;
  }
  return coef * total;
}

function qflJsGeneral(pred, label, score, n, c, beta, coef, gradPred, gradScore) {
  let total = 0;
  for (let i = 0; i < n; i++) {
    const t = label[i];
    const pos = t >= 0 && t < c ? t : -1;
    const y = pos >= 0 ? score[i] : 0;
    const off = i * c;
    let rowSum = 0;
    let gy = 0;
    for (let j = 0; j < c; j++) {
      const x = pred[off + j];
      const e = Math.exp(-Math.abs(x));
      const r = 1 / (1 + e);
      const sig = x >= 0 ? r : e * r;
      const oms = x >= 0 ? e * r : r;
      const sp = (x > 0 ? x : 0) + Math.log1p(e);
      if (j !== pos) {
        const p = Math.pow(sig, beta);
        const dp = beta === 0 ? 0 : beta * Math.pow(sig, beta - 1);
        rowSum += sp * p;
        gradPred[off + j] = coef * (p * sig + dp * sig * oms * sp);
      } else {
        const d = y - sig;
        const a = Math.abs(d);
        const bce = sp - x * y;
        const p = Math.pow(a, beta);
        const ds = (beta === 0 ? 0 : beta * Math.pow(a, beta - 1)) * Math.sign(d);
        rowSum += bce * p;
        gradPred[off + j] = coef * ((sig - y) * p - ds * sig * oms * bce);
        gy = coef * (ds * bce - x * p);
      }
    }
    gradScore[i] = gy;
    total += rowSum;
  }
  return coef * total;
}

/** mulberry32: a small seeded generator of uniform numbers in [0, 1). */
export function mulberry32(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal variates from a uniform generator (Box–Muller, both values used). */
export function gaussian(rand) {
  let spare = NaN;
  return () => {
    if (!Number.isNaN(spare)) { const s = spare; spare = NaN; return s; }
    let u = 0;
    while (u === 0) u = rand();
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

/**
 * Labels and scores of a detector batch: background C everywhere, exactly round(fraction · n) positive rows chosen by
 * a partial Fisher-Yates shuffle, each with a random class and a score in [0.05, 1).
 */
export function makeTargets(rand, n, c, fraction) {
  const label = new Int32Array(n).fill(c);
  const score = new Float32Array(n);
  for (let i = 0; i < n; i++) score[i] = 0.05 + 0.95 * rand();
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  const npos = Math.round(fraction * n);
  for (let k = 0; k < npos; k++) {
    const j = k + Math.floor(rand() * (n - k));
    const t = idx[k]; idx[k] = idx[j]; idx[j] = t;
    label[idx[k]] = Math.floor(rand() * c);
  }
  return { label, score, npos };
}
