// Argument checks shared by every op. Each throws GflInputError naming the argument and what was expected.
import { GflInputError } from './errors.js';

export type Reduction = 'none' | 'sum' | 'mean';

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  if (Array.isArray(v)) return 'Array';
  return typeof v;
}

export function f32Array(name: string, v: unknown, length: number): Float32Array {
  if (!(v instanceof Float32Array)) {
    throw new GflInputError(name, `expected a Float32Array of length ${length}, got ${typeName(v)}`);
  }
  if (v.length !== length) throw new GflInputError(name, `expected length ${length}, got ${v.length}`);
  return v;
}

export function i32Array(name: string, v: unknown, length: number): Int32Array {
  if (!(v instanceof Int32Array)) {
    throw new GflInputError(name, `expected an Int32Array of length ${length}, got ${typeName(v)}`);
  }
  if (v.length !== length) throw new GflInputError(name, `expected length ${length}, got ${v.length}`);
  return v;
}

export function optionalF32(name: string, v: unknown, length: number): Float32Array | undefined {
  return v === undefined ? undefined : f32Array(name, v, length);
}

/** A Float32Array whose length is a positive multiple of `rowWidth`; returns the row count. */
export function rowsOf(name: string, v: unknown, rowWidth: number, what: string): number {
  if (!(v instanceof Float32Array)) {
    throw new GflInputError(name, `expected a Float32Array of ${what}, got ${typeName(v)}`);
  }
  if (v.length % rowWidth !== 0) {
    throw new GflInputError(name, `expected a length that is a multiple of ${rowWidth} (${what}), got ${v.length}`);
  }
  return v.length / rowWidth;
}

export function positiveInt(name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new GflInputError(name, `expected an integer ≥ ${min}, got ${String(v)}`);
  }
  return v;
}

export function finiteNumber(name: string, v: unknown, opts: { min?: number; max?: number; minExclusive?: boolean } = {}): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new GflInputError(name, `expected a finite number, got ${String(v)}`);
  }
  if (opts.min !== undefined && (opts.minExclusive ? !(v > opts.min) : !(v >= opts.min))) {
    throw new GflInputError(name, `expected a number ${opts.minExclusive ? '>' : '≥'} ${opts.min}, got ${v}`);
  }
  if (opts.max !== undefined && !(v <= opts.max)) {
    throw new GflInputError(name, `expected a number ≤ ${opts.max}, got ${v}`);
  }
  return v;
}

export function reduction(name: string, v: unknown): Reduction {
  if (v === undefined) return 'mean';
  if (v !== 'none' && v !== 'sum' && v !== 'mean') {
    throw new GflInputError(name, `expected 'none', 'sum' or 'mean', got ${String(v)}`);
  }
  return v;
}

/** Every value finite (for small per-row arrays: weights, targets, scores). */
export function allFinite(name: string, a: Float32Array): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new GflInputError(name, `expected finite values, got ${a[i]} at index ${i}`);
  }
}

export function allInRange(name: string, a: Float32Array, lo: number, hi: number, hiExclusive: boolean, stride = 1, offset = 0): void {
  for (let i = offset; i < a.length; i += stride) {
    const v = a[i];
    if (!(v >= lo) || (hiExclusive ? !(v < hi) : !(v <= hi))) {
      throw new GflInputError(name, `expected values in [${lo}, ${hi}${hiExclusive ? ')' : ']'}, got ${v} at index ${i}`);
    }
  }
}

export function plainObject(name: string, v: unknown): Record<string, unknown> {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v) || ArrayBuffer.isView(v)) {
    throw new GflInputError(name, `expected an options object, got ${typeName(v)}`);
  }
  return v as Record<string, unknown>;
}

/** Rejects unknown option names, so that a typo does not silently fall back to a default. */
export function knownKeys(name: string, obj: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new GflInputError(`${name}.${k}`, `unknown option; expected one of ${allowed.join(', ')}`);
  }
}

export function bool(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new GflInputError(name, `expected true or false, got ${String(v)}`);
  return v;
}

/** A preallocated output `out[key]`, checked for type and length. */
export function outArray(out: Record<string, unknown>, key: string, length: number): Float32Array | undefined {
  return out[key] === undefined ? undefined : f32Array(`options.out.${key}`, out[key], length);
}
