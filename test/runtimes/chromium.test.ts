// Headless Chromium runs the golden smoke test on the installed package's unbundled ESM, served by a local server
// with a strict CSP: once cross-origin isolated (COOP/COEP: threads are used, 1 and 2 threads checked bit for bit
// against single-thread SIMD) and once not (single-thread SIMD, one warning naming the headers). Each page checks
// crossOriginIsolated and the backend `auto` chose, and reports any CSP violation (none: no eval, no new Function).
import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest';
import type { Browser } from 'playwright-core';
import { GOLDEN_DIRS, GOLDEN_COUNT, RUNTIMES_DIR } from './paths.js';
import { stage, keepSummary, expectThreads } from './spawn.js';
import { startServer } from './server.mjs';
import { launch, runPage } from './browser.js';

let browser: Browser;
const servers: Array<{ url: string; close(): Promise<void> }> = [];
beforeAll(async () => {
  stage(inject('consumerDir'), 'smoke-browser', RUNTIMES_DIR, ['smoke-core.mjs', 'browser-smoke.mjs', 'browser-smoke.html']);
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  for (const s of servers) await s.close();
});

async function server(isolated: boolean): Promise<string> {
  const s = await startServer({ mounts: { '/': inject('consumerDir'), '/goldens/': GOLDEN_DIRS[0], '/goldens2/': GOLDEN_DIRS[1] }, isolated });
  servers.push(s);
  return s.url;
}

function expectGoldens(s: any): void {
  keepSummary(`chromium ${s.crossOriginIsolated ? 'isolated' : 'not isolated'}`, s);
  expect(s.runtime).toBe('browser');
  expect(s.failures).toEqual([]);
  expect(s.violations).toEqual([]);
  expect(s.evalBlocked).toBe(true);
  expect(s.backends).toEqual(expect.arrayContaining(['wasm-scalar', 'wasm-simd']));
  expect(s.files).toBe(GOLDEN_COUNT);
  expect(s.unsupported).toEqual([]);
  for (const b of ['wasm-scalar', 'wasm-simd']) expect(s.perBackend[b], b).toBe(GOLDEN_COUNT);
  expect(s.classCounts['wasm-simd'], 'QFL at 1, 4, 20, 81 classes vs wasm-scalar').toBe(8);
}

describe('chromium', () => {
  it('cross-origin isolated (COOP/COEP): every supported golden case on every backend, also via wasmUrl', async () => {
    const { result: s, pageErrors, console: messages } = await runPage(browser, `${await server(true)}/smoke-browser/browser-smoke.html?wasmUrl=1`);
    expect(pageErrors).toEqual([]);
    expect(messages.filter((m) => /gfloss/.test(m.text))).toEqual([]);
    expect(s.crossOriginIsolated).toBe(true);
    expect(s.sharedArrayBuffer).toBe('function');
    expect(s.capabilities.threads).toBe(true);
    expectGoldens(s);
    for (const b of ['wasm-scalar', 'wasm-simd']) expect(s.wasmUrl[b], `${b} via wasmUrl`).toBe(s.perBackend[b]);
    expectThreads(s);
  });

  it('not isolated: threads unavailable and said why, single-thread SIMD chosen, every golden case passes', async () => {
    const { result: s, pageErrors, console: messages } = await runPage(browser, `${await server(false)}/smoke-browser/browser-smoke.html`);
    expect(pageErrors).toEqual([]);
    // the fallback says so once, naming the fix
    const warnings = messages.filter((m) => /gfloss/.test(m.text));
    expect(warnings, JSON.stringify(messages)).toHaveLength(1);
    expect(warnings[0].type).toBe('warning');
    expect(warnings[0].text).toMatch(/single-threaded.*Cross-Origin-Opener-Policy: same-origin.*Cross-Origin-Embedder-Policy: require-corp/);
    expect(s.asyncBackends).not.toContain('wasm-simd-threads');
    expect(s.crossOriginIsolated).toBe(false);
    expect(s.sharedArrayBuffer).toBe('undefined');
    expect(s.capabilities.threads).toBe(false);
    expect(s.capabilities.threadsReason).toMatch(/Cross-Origin-Opener-Policy/);
    expect(s.auto.backend).toBe('wasm-simd');
    expectGoldens(s);
  });
});
