// The threads build must be able to live on shared memory: every instance re-applies data segments and owns its
// globals, so it may have neither. Checked on the binary itself (section ids: 6 global, 11 data, 8 start).
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

function sections(bytes: Uint8Array): Map<number, number> {
  const found = new Map<number, number>();
  let p = 8;
  const leb = () => { let v = 0, shift = 0, b; do { b = bytes[p++]; v |= (b & 0x7f) << shift; shift += 7; } while (b & 0x80); return v >>> 0; };
  while (p < bytes.length) {
    const id = bytes[p++];
    const size = leb();
    const start = p;
    const count = id === 6 || id === 11 ? leb() : 1;
    found.set(id, (found.get(id) ?? 0) + count);
    p = start + size;
  }
  return found;
}

describe('kernel binaries', () => {
  it('the threads build has no data segments, no globals, no start function, and imports shared memory', () => {
    const bytes = readFileSync(join(ROOT, 'build', 'gfloss-simd-threads.wasm'));
    const s = sections(bytes);
    expect(s.get(11) ?? 0).toBe(0);
    expect(s.get(6) ?? 0).toBe(0);
    expect(s.has(8)).toBe(false);
    const m = new WebAssembly.Module(bytes);
    expect(WebAssembly.Module.imports(m)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const inst = new WebAssembly.Instance(m, { env: { memory: mem } });
    expect(typeof inst.exports.qflLogits).toBe('function');
  });

  it('the section walker does see segments where they exist', () => {
    // a module with one global and one data segment, to show the check above can fail
    const withData = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 0, 1, 6, 6, 1, 127, 0, 65, 0, 11, 11, 7, 1, 0, 65, 0, 11, 1, 42]);
    expect(WebAssembly.validate(withData)).toBe(true);
    const s = sections(withData);
    expect(s.get(6)).toBe(1);
    expect(s.get(11)).toBe(1);
  });

  it('the three builds export the same kernels', () => {
    const names = (f: string) => WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(join(ROOT, 'build', f)))).map((e) => e.name).sort();
    const scalar = names('gfloss.wasm');
    expect(names('gfloss-simd.wasm')).toEqual(scalar);
    expect(names('gfloss-simd-threads.wasm')).toEqual(scalar);
    expect(scalar).toContain('qflLogits');
  });
});
