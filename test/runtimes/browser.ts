// Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, with the launch flags measured in
// shared/platform/WASM-SIMD-THREADS.md §6. A missing browser fails the launch, and so the test.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM } from './paths.js';

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does); a missing browser fails, never skips`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

export interface PageRun { result: any; console: Array<{ type: string; text: string }>; pageErrors: string[] }

/** Opens url in a fresh context and waits for window.__gfloss (or window.__gflossError, which throws). */
export async function runPage(browser: Browser, url: string, timeoutMs = 60_000): Promise<PageRun> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const consoleMessages: PageRun['console'] = [];
    const pageErrors: string[] = [];
    page.on('console', (m) => consoleMessages.push({ type: m.type(), text: m.text() }));
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(url);
    const handle = await page.waitForFunction(() => (window as any).__gfloss ?? ((window as any).__gflossError && { error: (window as any).__gflossError }), null, { timeout: timeoutMs })
      .catch((e) => { throw new Error(`${url}: no result within ${timeoutMs} ms (${String(e).split('\n')[0]}); console: ${JSON.stringify(consoleMessages)}; errors: ${pageErrors.join(' | ')}`); });
    const result = await handle.jsonValue();
    if (result.error) throw new Error(`${url} failed: ${result.error}\nconsole: ${JSON.stringify(consoleMessages)}`);
    return { result, console: consoleMessages, pageErrors };
  } finally {
    await context.close();
  }
}
