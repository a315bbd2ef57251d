#!/usr/bin/env node
// QFL forward + gradient in headless Chromium (Debian's /usr/bin/chromium via playwright-core), on a cross-origin
// isolated page (COOP/COEP) so that the threads backend is offered, in the suite's table format. A smaller set than
// bench/suite.mjs: QFL at b1 and b8, detector-like logits, every backend the page offers, the plain-JS reference.
//   npm run build && node bench/browser.mjs [--rounds 5] [--reps 3]
import { chromium } from 'playwright-core';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../test/runtimes/server.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = '/usr/bin/chromium';
const arg = (name, def) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : def; };

if (!existsSync(CHROMIUM)) {
  console.error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  process.exit(1);
}
const server = await startServer({ mounts: { '/': ROOT }, isolated: true });
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${server.url}/bench/browser.html?rounds=${arg('rounds', 5)}&reps=${arg('reps', 3)}`);
  const handle = await page.waitForFunction(() => window.__bench ?? (window.__benchError && { error: window.__benchError }), null, { timeout: 300_000 });
  const r = await handle.jsonValue();
  if (r.error || errors.length) throw new Error(r.error ?? errors.join('\n'));
  console.log(`gfloss bench in Chromium: ${r.userAgent}`);
  console.log(`crossOriginIsolated ${r.crossOriginIsolated}; backends ${r.backends.join(', ')}; ${arg('rounds', 5)} rounds × ${arg('reps', 3)} calls`);
  for (const w of r.workloads) {
    console.log(`\n${w.label}: N = ${w.n.toLocaleString('en-US')} × C = 80, detector-like logits (gate: every backend matches the JS reference)`);
    console.log('  contender            median ms    min ms    max ms  ns/elem   vs js');
    const js = w.rows[0].median;
    for (const row of w.rows) {
      console.log(`  ${row.name.padEnd(20)} ${row.median.toFixed(2).padStart(9)} ${row.min.toFixed(2).padStart(9)} ${row.max.toFixed(2).padStart(9)} ` +
        `${(row.median * 1e6 / w.elements).toFixed(2).padStart(8)} ${(js / row.median).toFixed(2).padStart(6)}×`);
    }
  }
} finally {
  await browser.close();
  await server.close();
}
