// How the package is found and loaded: the `exports` map under each runtime's conditions (resolved by Node with
// --conditions, against the packed package), the .wasm files it exports, createGfl({ wasmUrl }) and its errors, and
// no eval or new Function anywhere in what ships.
import { describe, it, expect, inject } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { createGfl, createGflSync, GflInputError } from '../../dist/index.js';
import { ROOT } from './paths.js';
import { run, describeRun } from './spawn.js';
import { startServer } from './server.mjs';

function jsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? jsFiles(p) : p.endsWith('.js') ? [p] : [];
  });
}

describe('package exports', () => {
  const specifiers = ['gfloss', 'gfloss/conformance', 'gfloss/worker', 'gfloss/wasm/gfloss-simd.wasm', 'gfloss/wasm/gfloss.wasm', 'gfloss/wasm/gfloss-simd-threads.wasm', 'gfloss/package.json'];
  async function resolveAll(condition?: string): Promise<Record<string, string>> {
    const code = `for (const s of ${JSON.stringify(specifiers)}) console.log(s + ' ' + import.meta.resolve(s));`;
    const pkg = join(inject('consumerDir'), 'node_modules', 'gfloss');
    const r = await run(process.execPath, [...(condition ? [`--conditions=${condition}`] : []), '--input-type=module', '-e', code], { cwd: inject('consumerDir'), timeoutMs: 30_000 });
    expect(r.code, describeRun(r)).toBe(0);
    return Object.fromEntries(r.stdout.trim().split('\n').map((l) => {
      const [s, url] = l.split(' ');
      const file = fileURLToPath(url);
      statSync(file); // exists in the packed package
      return [s, relative(pkg, file)];
    }));
  }

  it.each([
    [undefined, 'dist/index.js'], ['deno', 'dist/index.js'], ['bun', 'dist/index.js'], ['browser', 'dist/index.js'],
    ['workerd', 'dist/workerd.js'], ['edge-light', 'dist/edge-light.js'],
  ])('condition %s resolves gfloss to %s, and the other subpaths to files that were packed', async (condition, entry) => {
    const r = await resolveAll(condition);
    expect(r).toEqual({
      gfloss: entry, 'gfloss/conformance': 'dist/conformance.js', 'gfloss/worker': 'dist/wasm/worker.js', 'gfloss/wasm/gfloss-simd.wasm': 'build/gfloss-simd.wasm',
      'gfloss/wasm/gfloss.wasm': 'build/gfloss.wasm', 'gfloss/wasm/gfloss-simd-threads.wasm': 'build/gfloss-simd-threads.wasm',
      'gfloss/package.json': 'package.json',
    });
  });

  it('has types first in every entry, edge conditions before browser, and packs no test-only binary', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    for (const key of ['.', './conformance', './worker']) expect(Object.keys(pkg.exports[key])[0], key).toBe('types');
    const conditions = Object.keys(pkg.exports['.']);
    for (const c of ['workerd', 'edge-light', 'deno', 'bun', 'node', 'browser', 'default']) expect(conditions).toContain(c);
    // wrangler and Next enable `browser` too: the edge keys must come first
    expect(conditions.indexOf('workerd')).toBeLessThan(conditions.indexOf('browser'));
    expect(conditions.indexOf('edge-light')).toBeLessThan(conditions.indexOf('browser'));
    expect(conditions.at(-1)).toBe('default');
    expect(readdirSync(join(inject('consumerDir'), 'node_modules', 'gfloss', 'build')).sort()).toEqual(['gfloss-simd-threads.wasm', 'gfloss-simd.wasm', 'gfloss.wasm']);
  });

  it('ships no eval and no new Function', () => {
    const files = jsFiles(join(inject('consumerDir'), 'node_modules', 'gfloss', 'dist'));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) expect(readFileSync(f, 'utf8'), f).not.toMatch(/\beval\s*\(|\bnew\s+Function\s*\(|\bFunction\s*\(\s*['"`]/);
  });
});

describe('createGfl({ wasmUrl })', () => {
  const simdFile = pathToFileURL(join(ROOT, 'build', 'gfloss-simd.wasm'));

  it('loads a file: URL (as URL or string) and computes what the embedded module computes', async () => {
    const pred = new Float32Array([0, 0, 2, 2, 1, 1, 4, 5]), target = new Float32Array([1, 1, 3, 3, 0, 0, 4, 4]);
    const ref = createGflSync({ backend: 'wasm-simd' }).giouLossSync({ pred, target });
    for (const url of [simdFile, simdFile.href]) {
      const g = await createGfl({ backend: 'wasm-simd', wasmUrl: url });
      const r = g.giouLossSync({ pred, target });
      expect(r.loss).toBe(ref.loss);
      expect(r.gradPred).toEqual(ref.gradPred);
      g.dispose();
    }
  });

  it('loads over http from a server that sends application/wasm', async () => {
    const s = await startServer({ mounts: { '/': join(ROOT, 'build') }, isolated: false });
    try {
      const g = await createGfl({ backend: 'wasm-scalar', wasmUrl: `${s.url}/gfloss.wasm` });
      expect(g.backend).toBe('wasm-scalar');
      g.dispose();
      await expect(createGfl({ wasmUrl: `${s.url}/missing.wasm` })).rejects.toThrow(/HTTP 404/);
    } finally {
      await s.close();
    }
  });

  it('reports misuse by argument name', async () => {
    const argumentOf = async (p: Promise<unknown>) => {
      const e = await p.then(() => undefined, (x) => x);
      expect(e).toBeInstanceOf(GflInputError);
      return (e as GflInputError).argument + ': ' + (e as Error).message;
    };
    expect(await argumentOf(Promise.resolve().then(() => createGflSync({ wasmUrl: simdFile })))).toMatch(/^options\.wasmUrl: .*createGfl\(\)/);
    expect(await argumentOf(createGfl({ wasmUrl: 42 as unknown as string }))).toMatch(/^options\.wasmUrl: .*expected a URL/);
    expect(await argumentOf(createGfl({ wasmUrl: 'gfloss-simd.wasm' }))).toMatch(/^options\.wasmUrl: .*not a valid URL .*absolute/);
    expect(await argumentOf(createGfl({ wasmUrl: simdFile, wasmModule: new ArrayBuffer(8) }))).toMatch(/not both/);
    expect(await argumentOf(createGfl({ wasmUrl: pathToFileURL(join(ROOT, 'package.json')) }))).toMatch(/^options\.wasmUrl: .*do not compile/);
  });
});
