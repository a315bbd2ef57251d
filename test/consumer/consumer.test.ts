// The package as a consumer gets it (npm pack, installed into a temporary folder; see test/runtimes/global-setup.ts):
// an app bundled by esbuild that imports `gfloss` by name (the pool's worker script, `gfloss/worker`, bundled as a second
// entry point) runs in headless Chromium, isolated (threads) and not; and tsc
// type-checks a consumer file under moduleResolution bundler and node16.
import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import type { Browser } from 'playwright-core';
import { BIN, CONSUMER_SRC, GOLDEN_DIR } from '../runtimes/paths.js';
import { run, describeRun, stage } from '../runtimes/spawn.js';
import { startServer } from '../runtimes/server.mjs';
import { launch, runPage } from '../runtimes/browser.js';

describe('esbuild bundle in Chromium', () => {
  let browser: Browser;
  let appDir: string;
  const servers: Array<{ close(): Promise<void> }> = [];
  beforeAll(async () => {
    appDir = stage(inject('consumerDir'), 'app', CONSUMER_SRC, ['app.mjs', 'worker-entry.mjs', 'index.html']);
    stage(inject('consumerDir'), 'app', GOLDEN_DIR, ['qfl_beta2_N12_C4_s102.json', 'giou_K16_s110.json']);
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    for (const s of servers) await s.close();
  });

  it('bundles by package name with the browser conditions, without eval or new Function', async () => {
    const r = await run(BIN.esbuild, ['app=app.mjs', 'worker=worker-entry.mjs', '--bundle', '--format=esm', '--platform=browser',
      '--target=es2022', '--outdir=.', '--metafile=meta.json', '--log-level=warning'], { cwd: appDir, timeoutMs: 60_000 });
    expect(r.code, describeRun(r)).toBe(0);
    const inputs = Object.keys(JSON.parse(readFileSync(join(appDir, 'meta.json'), 'utf8')).inputs);
    expect(inputs).toContainEqual(expect.stringMatching(/(^|\/)node_modules\/gfloss\/dist\/index\.js$/));
    expect(inputs).toContainEqual(expect.stringMatching(/(^|\/)node_modules\/gfloss\/dist\/conformance\.js$/));
    expect(inputs).toContainEqual(expect.stringMatching(/(^|\/)node_modules\/gfloss\/dist\/wasm\/worker\.js$/));
    for (const f of ['app.js', 'worker.js']) expect(readFileSync(join(appDir, f), 'utf8'), f).not.toMatch(/\beval\s*\(|new\s+Function\s*\(/);
  });

  it.each([true, false])('runs in Chromium (cross-origin isolated: %s)', async (isolated) => {
    const s = await startServer({ mounts: { '/': inject('consumerDir') }, isolated });
    servers.push(s);
    const { result, pageErrors } = await runPage(browser, `${s.url}/app/index.html`);
    expect(pageErrors).toEqual([]);
    expect(result.crossOriginIsolated).toBe(isolated);
    // isolated: the bundled worker script runs the pool (auto picks threads where there are several logical processors)
    const threaded = isolated && availableParallelism() > 1;
    expect(result.backend).toBe(threaded ? 'wasm-simd-threads' : 'wasm-simd');
    expect(result.largeBackend).toBe(result.backend);
    if (threaded) expect(result.largeThreads).toBe(availableParallelism());
    expect(result.results.length).toBeGreaterThanOrEqual(12);
    expect(result.results.filter((x: any) => x.bad.length)).toEqual([]);
  });
});

describe('tsc on a consumer file', () => {
  const configs = {
    bundler: { module: 'esnext', moduleResolution: 'bundler' },
    node16: { module: 'node16', moduleResolution: 'node16' },
  };
  it.each(Object.keys(configs) as Array<keyof typeof configs>)('moduleResolution %s: the types resolve and catch wrong calls', async (name) => {
    const dir = stage(inject('consumerDir'), `types-${name}`, CONSUMER_SRC, ['types.ts']);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        ...configs[name], target: 'es2022', lib: ['es2022', 'dom'], types: [], strict: true, noEmit: true,
        noImplicitAny: true, skipLibCheck: false, traceResolution: false,
      },
      files: ['types.ts'],
    }));
    const r = await run(process.execPath, [BIN.tsc, '-p', 'tsconfig.json', '--explainFiles'], { cwd: dir, timeoutMs: 90_000 });
    expect(r.code, describeRun(r)).toBe(0);
    // the declarations came from the package's exports (per-entry types), not from some fallback
    expect(r.stdout).toMatch(/node_modules\/gfloss\/dist\/index\.d\.ts/);
    expect(r.stdout).toMatch(/node_modules\/gfloss\/dist\/conformance\.d\.ts/);
    expect(readdirSync(dir)).not.toContain('types.js');
  });
});
