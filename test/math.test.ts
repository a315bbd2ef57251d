// The elementary functions of assembly/math.ts, both tiers (scalar f32 and f32x4), against float64 references
// rounded to float32, over the whole float32 range: an even grid on [-100, 100], a sweep of the bit patterns of
// every float32 magnitude (subnormals included), every float in windows around the overflow / subnormal / zero
// thresholds, and the special values. The probe module (build/math-probe.wasm, built by scripts/build-wasm.mjs)
// wraps each function in an array-wide loop; the bounds below are the ones stated at the top of math.ts.
//
// Error measures, per function and tier:
//   ulp     distance in float32 steps from the correctly rounded result, where that result is normal
//   sub     the same distance (in steps of 2^-149) where the correctly rounded result is subnormal or zero
//   abs     |result − exact float64 value| over all finite results
import { describe, it, expect, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';

interface Probe {
  heapBase(): number;
  hasSimd(): number;
  expArray(x: number, y: number, n: number, vector: number): void;
  expNonPositiveArray(x: number, y: number, n: number, vector: number): void;
  expNonPositiveShortArray(x: number, y: number, n: number, vector: number): void;
  logArray(x: number, y: number, n: number, vector: number): void;
  log1pSmallArray(x: number, y: number, n: number, vector: number): void;
  log1pAtanhArray(x: number, y: number, n: number, vector: number): void;
  softplusArray(x: number, y: number, n: number, vector: number): void;
  sigmoidArray(x: number, y: number, n: number, vector: number): void;
  atanArray(x: number, y: number, n: number, vector: number): void;
  powPosArray(x: number, y: number, n: number, p: number, vector: number): void;
  powIntArray(x: number, y: number, n: number, m: number, vector: number): void;
}

const bytes = readFileSync(new URL('../build/math-probe.wasm', import.meta.url));
const memory = new WebAssembly.Memory({ initial: 1 });
const probe = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as unknown as Probe;
const base = (probe.heapBase() + 15) & ~15;

type Tier = 'scalar' | 'f32x4';
const TIERS: Tier[] = ['scalar', 'f32x4'];

/** Runs one array wrapper over `xs` in the probe's memory and returns a copy of the results. */
function run(xs: Float32Array, tier: Tier, call: (x: number, y: number, n: number, vector: number) => void): Float32Array {
  const n = xs.length;
  const xp = base;
  const yp = (xp + n * 4 + 15) & ~15;
  const end = yp + n * 4 + 16;
  const have = memory.buffer.byteLength;
  if (end > have) memory.grow(Math.ceil((end - have) / 65536));
  new Uint8Array(memory.buffer, xp, n * 4).set(new Uint8Array(xs.buffer, xs.byteOffset, n * 4)); // NaN payloads kept
  new Float32Array(memory.buffer, yp, n).fill(12345); // a stale value would show up as a large error
  call(xp, yp, n, tier === 'f32x4' ? 1 : 0);
  return new Float32Array(memory.buffer, yp, n).slice();
}

// ------------------------------------------------------------------------------------------------------------
// inputs

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const bitsOf = (x: number): number => { f32[0] = x; return u32[0]; };

const FLT_MIN = 1.1754943508222875e-38;
const MAX_BITS = 0x7f7fffff; // FLT_MAX

/** `n` evenly spaced points on [lo, hi], rounded to float32. */
function grid(lo: number, hi: number, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + ((hi - lo) * i) / (n - 1);
  return out;
}

/** Float32 values with bit patterns lo, lo + stride, ... up to hi (hi included), and their negatives if asked. */
function bitSweep(lo: number, hi: number, stride: number, bothSigns: boolean): Float32Array {
  const count = Math.floor((hi - lo) / stride) + 2;
  const out = new Uint32Array(bothSigns ? 2 * count : count);
  let k = 0;
  for (let b = lo; b <= hi; b += stride) out[k++] = b;
  out[k++] = hi;
  if (bothSigns) for (let i = 0; i < count; i++) out[k++] = (out[i] | 0x80000000) >>> 0;
  return new Float32Array(out.buffer, 0, k);
}

/** Every float32 between lo and hi (same sign). */
function every(lo: number, hi: number): Float32Array {
  const neg = hi <= 0;
  let a = bitsOf(Math.abs(lo)), b = bitsOf(Math.abs(hi));
  if (a > b) [a, b] = [b, a];
  const out = new Float32Array(b - a + 1);
  for (let i = 0; i <= b - a; i++) { u32[0] = a + i; out[i] = neg ? -f32[0] : f32[0]; }
  return out;
}

function concat(...parts: Array<Float32Array | number[]>): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let k = 0;
  for (const p of parts) { out.set(p, k); k += p.length; }
  return out;
}

const SPECIALS = [
  0, -0, Infinity, -Infinity, NaN, 1e-45, -1e-45, 1e-40, -1e-40, FLT_MIN, -FLT_MIN, 1.1754944e-38, -1.1754944e-38,
  3.4e38, -3.4e38, 100, -100, 88.72, 88.8, -87.4, -88.8, -103, -104, -110, 1, -1, 0.5, -0.5, 88.72283935, -88.72283935,
];
/** NaN bit patterns: quiet, negative quiet, signalling, all payload bits set, both signs. */
const NANS = new Float32Array(new Uint32Array([0x7fc00000, 0xffc00000, 0x7f800001, 0x7fffffff, 0xffffffff, 0xff800001]).buffer);

/** Inputs where an exhaustive scan of every float32 found each function's largest error (kept as anchors). */
const WORST = [
  5.960464477539063e-8, -87.33689880371094, // exp: 1 ulp; 1 step of 2^-149 just below FLT_MIN
  -1.0988062620162964, // sigmoid: 3 ulp
  0.00034549832344055176, 0.2710250914096832, 8.020685195922852, // softplus: 2 ulp; 4.77e-7 absolute
  0.4183299243450165, 2.5467052459716797, // atan: 3 ulp; largest absolute error
];

/** All x: the grid on [-100, 100], every magnitude by bit pattern (both signs), threshold windows, specials. */
const ALL_X = concat(
  grid(-100, 100, 1_000_001),
  bitSweep(1, MAX_BITS, 4093, true),
  every(88.70, 88.75), every(-88.75, -88.70), every(-87.36, -87.30), every(-104.1, -103.2),
  SPECIALS, WORST,
);
/** Every 1021st positive float32 from the smallest subnormal to FLT_MAX, the grid (negatives → NaN), specials. */
const LOG_X = concat(bitSweep(1, MAX_BITS, 1021, false), grid(-100, 100, 100_001), every(0.999, 1.001), SPECIALS, [2.802596928649634e-45, 9.988721700415518e-40]);
/** [0, 1]: a grid, every bit pattern by stride (subnormals included), every float near 1. */
const UNIT_X = concat(grid(0, 1, 500_001), bitSweep(0, 0x3f800000, 1021, false), every(0.99, 1),
  [0, -0, 1e-45, 1e-40, FLT_MIN, 1, 2 ** -24, 2 ** -23, 2 ** -12,
  3.7697293464589166e-7, 0.41455957293510437, // log1p's largest ulp and absolute errors
  0.00023233891988638788, 0.9979022741317749]); // log1pAtanh4's

/**
 * e ∈ [0, e^−1.5] (the QFL far-negative softplus): every 31st float32 from 2^−24 up, every float32 from 0.2 up (where
 * the largest errors lie: an exhaustive scan of the interval found its maximum, 1.188 ulp, at e = 0.22289), the grid,
 * the ends.
 */
const FAR_E = concat(bitSweep(0x33800000, 0x3e647c3c, 31, false), every(0.2, Math.fround(Math.exp(-1.5))),
  grid(0, Math.fround(Math.exp(-1.5)), 200_001), [0, 1e-45, FLT_MIN, 2 ** -24, Math.fround(Math.exp(-1.5))]);

// ------------------------------------------------------------------------------------------------------------
// comparison

interface Stats {
  ulp: number; ulpAt: number;       // normal results: float32 steps from the correctly rounded value
  frac: number;                     // normal results: |got − exact| / ulp(correctly rounded)
  sub: number; subAt: number;       // subnormal / zero results: steps of 2^-149
  abs: number; absAt: number;       // all finite results: |got − exact|
  bad: string[];                    // NaN / ±Inf / sign-of-infinity mismatches
  n: number;
}

/** Orders float32 bit patterns so that adjacent floats differ by 1 (−0 and +0 both map to 0). */
const order = (bits: number): number => (bits & 0x80000000 ? -(bits & 0x7fffffff) : bits);

function compare(xs: Float32Array, got: Float32Array, ref: (x: number) => number): Stats {
  const s: Stats = { ulp: 0, ulpAt: NaN, frac: 0, sub: 0, subAt: NaN, abs: 0, absAt: NaN, bad: [], n: xs.length };
  const gotBits = new Uint32Array(got.buffer, got.byteOffset, got.length);
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i], g = got[i], exact = ref(x);
    const r = Math.fround(exact);
    if (Number.isNaN(r) || Number.isNaN(g) || !Number.isFinite(r) || !Number.isFinite(g)) {
      if (!(Object.is(r, g) || (Number.isNaN(r) && Number.isNaN(g)))) {
        if (s.bad.length < 10) s.bad.push(`x=${x}: got ${g}, want ${r}`);
      }
      continue;
    }
    const d = Math.abs(order(gotBits[i]) - order(bitsOf(r)));
    const a = Math.abs(g - exact);
    if (a > s.abs) { s.abs = a; s.absAt = x; }
    if (Math.abs(r) >= FLT_MIN) {
      if (d > s.ulp) { s.ulp = d; s.ulpAt = x; }
      const e = (bitsOf(r) >>> 23) & 0xff;
      const fr = a / 2 ** (e - 150);
      if (fr > s.frac) s.frac = fr;
    } else if (d > s.sub) { s.sub = d; s.subAt = x; }
  }
  return s;
}

/** Largest float32 step between the two tiers (NaN must meet NaN). */
function tierGap(a: Float32Array, b: Float32Array): { gap: number; at: number } {
  const ab = new Uint32Array(a.buffer, a.byteOffset, a.length), bb = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let gap = 0, at = -1;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) || Number.isNaN(b[i])) {
      if (!(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return { gap: Infinity, at: i };
      continue;
    }
    const d = Math.abs(order(ab[i]) - order(bb[i]));
    if (d > gap) { gap = d; at = i; }
  }
  return { gap, at };
}

// references (float64, rounded to float32 by compare)

/** torch's float32 sigmoid is exactly 0 where exp(-x) overflows: x ≤ -88.72283935546875. */
const SIGMOID_ZERO_AT_OR_BELOW = Math.fround(-88.72283935546875);
const refSigmoid = (x: number): number => (x <= SIGMOID_ZERO_AT_OR_BELOW ? 0 : 1 / (1 + Math.exp(-x)));
const refSoftplus = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
/** expNonPositive4 clamps x at -87.33654022216797, the largest float32 whose exp is still normal. */
const EXP_NONPOS_LO = Math.fround(-87.33654022216797);
const refExpNonPositive = (x: number): number => Math.exp(Math.max(x, EXP_NONPOS_LO));
const NONPOS_X = ALL_X.filter((x) => !(x > 0));

// The bounds stated at the top of assembly/math.ts: ulp (normal results), sub (subnormal or zero results, in steps
// of 2^-149), abs (absolute, all finite results; Infinity where math.ts states none).
interface Case {
  name: string; xs: Float32Array; ref: (x: number) => number; tiers: Tier[];
  call: (x: number, y: number, n: number, v: number) => void;
  ulp: number; sub: number; abs: number;
  /** bound on the error in units of the result's last place (frac), where math.ts states one finer than whole steps */
  frac?: number;
}
const CASES: Case[] = [
  { name: 'exp', xs: ALL_X, ref: Math.exp, tiers: TIERS, call: probe.expArray, ulp: 1, sub: 1, abs: Infinity },
  { name: 'expNonPositive', xs: NONPOS_X, ref: refExpNonPositive, tiers: ['f32x4'], call: probe.expNonPositiveArray, ulp: 1, sub: 0, abs: Infinity },
  { name: 'expNonPositiveShort', xs: NONPOS_X, ref: refExpNonPositive, tiers: ['f32x4'], call: probe.expNonPositiveShortArray, ulp: 2, sub: 0, abs: Infinity, frac: 2.26 },
  { name: 'log', xs: LOG_X, ref: Math.log, tiers: TIERS, call: probe.logArray, ulp: 1, sub: 0, abs: Infinity },
  { name: 'log1p', xs: UNIT_X, ref: Math.log1p, tiers: TIERS, call: probe.log1pSmallArray, ulp: 1, sub: 0, abs: Infinity },
  { name: 'log1pAtanh', xs: UNIT_X, ref: Math.log1p, tiers: ['f32x4'], call: probe.log1pAtanhArray, ulp: 2, sub: 1, abs: Infinity },
  { name: 'sigmoid', xs: ALL_X, ref: refSigmoid, tiers: TIERS, call: probe.sigmoidArray, ulp: 3, sub: 1, abs: Infinity },
  { name: 'softplus', xs: ALL_X, ref: refSoftplus, tiers: TIERS, call: probe.softplusArray, ulp: 2, sub: 1, abs: 4.8e-7 },
  { name: 'log1pFar', xs: FAR_E, ref: Math.log1p, tiers: ['f32x4'], call: probe.log1pFarArray, ulp: 1, sub: 0, abs: Infinity, frac: 1.19 },
  { name: 'atan', xs: ALL_X, ref: Math.atan, tiers: ['scalar'], call: probe.atanArray, ulp: 3, sub: 0, abs: Infinity },
];

/** a ∈ [0, 1] for pow (the kernels raise |y − σ| and 1 − p): a sweep of the bit patterns and a grid. */
const POW_A = concat(bitSweep(0, 0x3f800000, 4099, false), grid(0, 1, 100_001), [0, 1e-45, FLT_MIN, 0.5, 1],
  [0.32983943819999695, 2.9970439061562744e-39, 3.2969546537309213e-10, 2.274057407224833e-13]); // worst seen: a^2.5, a^-0.5 ratio, a^4, a^3
const POW_P = [-0.5, 0.25, 0.5, 1.5, 2.5];
/** powPos = exp(p·log a) carries log's error times p: ≤ 1 + POW_K·|p·ln a| ulp (normal results). */
const POW_K = 2;
/** powInt by repeated squaring, a ∈ [0, 1]: correctly rounded for m ≤ 2, ≤ 1 ulp for m = 3, ≤ 2 ulp for m = 4. */
const POW_INT_ULP = [0, 0, 0, 1, 2];

const table: string[] = [];
const fmt = (v: number): string => (v === 0 ? '0' : Math.abs(v) < 1e-3 || Math.abs(v) >= 1e4 ? v.toExponential(2) : String(+v.toPrecision(3)));
function record(name: string, tier: Tier, s: Stats): void {
  table.push(`${(name + ' ' + tier).padEnd(22)} ${String(s.n).padStart(8)}  ulp ${String(s.ulp).padStart(2)} (x=${fmt(s.ulpAt)})`
    + `  frac ${s.frac.toFixed(3)}  sub ${s.sub} (x=${fmt(s.subAt)})  abs ${fmt(s.abs)} (x=${fmt(s.absAt)})`);
}
afterAll(() => { if (table.length) console.log(`math.ts measured errors\n${table.join('\n')}`); });

// ------------------------------------------------------------------------------------------------------------

describe('math.ts elementary functions against float64', () => {
  it('the probe has the f32x4 tier compiled in', () => {
    expect(probe.hasSimd()).toBe(1);
  });

  for (const c of CASES) {
    describe(c.name, () => {
      const out: Partial<Record<Tier, Float32Array>> = {};
      for (const tier of c.tiers) {
        it(`${tier}: ≤ ${c.ulp} ulp (normal results), ≤ ${c.sub} subnormal steps, specials exact`, () => {
          const got = run(c.xs, tier, c.call);
          out[tier] = got;
          const s = compare(c.xs, got, c.ref);
          record(c.name, tier, s);
          expect(s.bad).toEqual([]);
          expect(s.ulp, `worst at x=${s.ulpAt}`).toBeLessThanOrEqual(c.ulp);
          expect(s.sub, `worst at x=${s.subAt}`).toBeLessThanOrEqual(c.sub);
          expect(s.abs, `worst at x=${s.absAt}`).toBeLessThanOrEqual(c.abs);
          if (c.frac !== undefined) expect(s.frac).toBeLessThanOrEqual(c.frac);
        });
        it(`${tier}: every NaN bit pattern gives NaN`, () => {
          const got = run(NANS, tier, c.call);
          expect(Array.from(got, (v) => Number.isNaN(v))).toEqual(Array.from(NANS, () => true));
        });
      }
      if (c.tiers.length === 2) {
        it('scalar and f32x4 agree within 1 ulp', () => {
          const a = out.scalar ?? run(c.xs, 'scalar', c.call), b = out.f32x4 ?? run(c.xs, 'f32x4', c.call);
          const { gap, at } = tierGap(a, b);
          expect(gap, `x=${c.xs[at]}: scalar ${a[at]}, f32x4 ${b[at]}`).toBeLessThanOrEqual(1);
        });
      }
    });
  }

  describe('conventions', () => {
    for (const tier of TIERS) {
      it(`${tier}: sigmoid is exactly +0 at and below ${SIGMOID_ZERO_AT_OR_BELOW} and positive above`, () => {
        const xs = concat(every(-88.7229, -88.7227), [-89, -100, -1e30, -3.4e38, -Infinity, -103.9, -88.8]);
        const got = run(xs, tier, probe.sigmoidArray);
        for (let i = 0; i < xs.length; i++) {
          if (xs[i] <= SIGMOID_ZERO_AT_OR_BELOW) expect(Object.is(got[i], 0), `x=${xs[i]}`).toBe(true);
          else expect(got[i], `x=${xs[i]}`).toBeGreaterThan(0);
        }
      });

      it(`${tier}: exp is +Inf from the float32 overflow threshold up, 0 at -Inf and below -103.972`, () => {
        // exp(x) rounds to +Inf in float32 from ln(2^128 − 2^103) = 88.72283906... up; the first float above is 88.72283935546875
        const xs = new Float32Array([88.72283172607422, 88.72283935546875, 88.8, 89, 1e10, Infinity, -Infinity, -104, -103.98, -1e30]);
        const got = Array.from(run(xs, tier, probe.expArray));
        expect(got.slice(0, 6)).toEqual([Math.fround(Math.exp(88.72283172607422)), Infinity, Infinity, Infinity, Infinity, Infinity]);
        expect(got.slice(6).every((v) => Object.is(v, 0))).toBe(true);
      });

      it(`${tier}: log(±0) = -Inf, log(x < 0) = NaN, log(+Inf) = +Inf, log(1) = +0`, () => {
        const got = Array.from(run(new Float32Array([0, -0, -1e-45, -1, -Infinity, Infinity, 1]), tier, probe.logArray));
        expect(got.slice(0, 2)).toEqual([-Infinity, -Infinity]);
        expect(got.slice(2, 5).every(Number.isNaN)).toBe(true);
        expect(got[5]).toBe(Infinity);
        expect(Object.is(got[6], 0)).toBe(true);
      });

      if (tier === 'scalar') {
        it('scalar: atan keeps the sign of zero, as torch', () => {
          const got = run(new Float32Array([0, -0]), tier, probe.atanArray);
          expect(Object.is(got[0], 0)).toBe(true);
          expect(Object.is(got[1], -0)).toBe(true);
        });
      }

      it(`${tier}: softplus(+Inf) = +Inf, softplus(-Inf) = 0, softplus(-100) is the subnormal 3.78e-44`, () => {
        const got = Array.from(run(new Float32Array([Infinity, -Infinity, -100]), tier, probe.softplusArray));
        expect(got).toEqual([Infinity, 0, Math.fround(Math.log1p(Math.exp(-100)))]);
        expect(got[2]).toBeCloseTo(3.78e-44, 46);
      });
    }
  });

  describe('pow', () => {
    for (const tier of TIERS) {
      for (const p of POW_P) {
        it(`${tier}: a^${p} for a ∈ [0, 1] within 1 + ${POW_K}·|p·ln a| ulp`, () => {
          const got = run(POW_A, tier, (x, y, n, v) => probe.powPosArray(x, y, n, p, v));
          const s = compare(POW_A, got, (a) => Math.pow(a, p));
          record(`pow ^${p}`, tier, s);
          expect(s.bad).toEqual([]);
          const gb = new Uint32Array(got.buffer);
          let worst = 0, worstAt = NaN;
          for (let i = 0; i < POW_A.length; i++) {
            const a = POW_A[i], r = Math.fround(Math.pow(a, p));
            if (!(Math.abs(r) >= FLT_MIN) || !Number.isFinite(r)) continue;
            const excess = Math.abs(order(gb[i]) - order(bitsOf(r))) - (1 + POW_K * Math.abs(p * Math.log(a)));
            if (excess > worst) { worst = excess; worstAt = a; }
          }
          expect(worst, `a=${worstAt}`).toBe(0);
          expect(Array.from(run(new Float32Array([0, 1]), tier, (x, y, n, v) => probe.powPosArray(x, y, n, p, v))))
            .toEqual([p > 0 ? 0 : Infinity, 1]);
        });
      }
      it(`${tier}: a^0 = 1 for every a, including 0, +Inf and NaN (as torch)`, () => {
        const xs = concat([0, 1e-45, 0.5, 1, 3.4e38, Infinity], NANS);
        expect(Array.from(run(xs, tier, (x, y, n, v) => probe.powPosArray(x, y, n, 0, v)))).toEqual(Array(xs.length).fill(1));
        expect(Array.from(run(xs, tier, (x, y, n, v) => probe.powIntArray(x, y, n, 0, v)))).toEqual(Array(xs.length).fill(1));
      });
      it(`${tier}: NaN^p is NaN for p ≠ 0`, () => {
        for (const p of [...POW_P, 1, 2]) {
          expect(Array.from(run(NANS, tier, (x, y, n, v) => probe.powPosArray(x, y, n, p, v))).every(Number.isNaN), `p=${p}`).toBe(true);
        }
        for (const m of [1, 2, 3, 4]) {
          expect(Array.from(run(NANS, tier, (x, y, n, v) => probe.powIntArray(x, y, n, m, v))).every(Number.isNaN), `m=${m}`).toBe(true);
        }
      });
      for (const m of [1, 2, 3, 4]) {
        it(`${tier}: a^${m} by repeated squaring for a ∈ [0, 1] within ${POW_INT_ULP[m]} ulp`, () => {
          const got = run(POW_A, tier, (x, y, n, v) => probe.powIntArray(x, y, n, m, v));
          const s = compare(POW_A, got, (a) => Math.pow(a, m));
          record(`powInt ^${m}`, tier, s);
          expect(s.bad).toEqual([]);
          expect(s.ulp, `a=${s.ulpAt}`).toBeLessThanOrEqual(POW_INT_ULP[m]);
          expect(s.sub, `a=${s.subAt}`).toBeLessThanOrEqual(1);
        });
      }
    }
  });
});
