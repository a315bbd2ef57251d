// The `gfloss` command (Node): conformance against golden cases, and what the runtime supports.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { basename, join } from 'node:path';
import { dirname } from 'node:path';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createGfl, createGflSync, getCapabilities, availableBackends, type BackendName } from './index.js';
import { logicalProcessors } from './capabilities.js';
import { runCase, resultDocument, compareCase, UnsupportedOpError, type GoldenCase } from './conformance.js';

const USAGE = `usage:
  gfloss conformance CASE.json[.gz]... [--backend NAME] [--out DIR] [--check]
      Runs each golden case's op on its inputs through the public API and writes DIR/<name>.json
      (name, backend, and every outputs/grads field of the case). --check also compares with the
      case's own values under its tolerance_hint and prints the worst field. NAME: auto (default),
      wasm-simd, wasm-scalar, or all (every backend this runtime supports).
  gfloss bench [--quick] [--json PATH] [--svg PATH] [--help]
      Runs the benchmark suite (bench/suite.mjs, in a checkout of the repository): forward + gradient
      on every backend against plain JS, TensorFlow.js and the measured bandwidth bound.
  gfloss doctor
      Prints the runtime's capabilities, then creates an instance as createGfl() does and prints the backend
      and thread count it got.`;

export function readCase(path: string): GoldenCase {
  const raw = readFileSync(path);
  const text = path.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
  return JSON.parse(text) as GoldenCase;
}

function conformance(args: string[]): number {
  const files: string[] = [];
  let backendArg = 'auto';
  let outDir: string | undefined;
  let check = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--backend') backendArg = args[++i] ?? '';
    else if (a === '--out') outDir = args[++i];
    else if (a === '--check') check = true;
    else if (a.startsWith('--')) { console.error(`unknown option ${a}\n${USAGE}`); return 2; }
    else files.push(a);
  }
  if (files.length === 0) { console.error(USAGE); return 2; }
  if (!outDir && !check) outDir = 'conformance-out';
  const caps = getCapabilities();
  const backends: Array<BackendName | 'auto'> = backendArg === 'all' ? availableBackends(caps) : [backendArg as BackendName];
  let failures = 0;
  for (const b of backends) {
    let gfl;
    try {
      gfl = createGflSync({ backend: b });
    } catch (e) {
      console.error(`backend ${b}: ${(e as Error).message}`);
      return 2;
    }
    const dir = outDir && backends.length > 1 ? join(outDir, gfl.backend) : outDir;
    if (dir) mkdirSync(dir, { recursive: true });
    for (const file of files) {
      let c: GoldenCase;
      try {
        c = readCase(file);
      } catch (e) {
        console.error(`FAIL ${file}: cannot read: ${(e as Error).message}`);
        failures++;
        continue;
      }
      const name = c.name ?? basename(file).replace(/\.json(\.gz)?$/, '');
      let result;
      try {
        result = runCase(gfl, c);
      } catch (e) {
        const what = e instanceof UnsupportedOpError ? `unsupported op '${e.op}': ${e.message}` : (e as Error).message;
        console.error(`FAIL ${name} [${gfl.backend}]: ${what}`);
        failures++;
        continue;
      }
      if (dir) writeFileSync(join(dir, `${name}.json`), JSON.stringify(resultDocument(c, gfl.backend, result)));
      if (check) {
        const checks = compareCase(c, result);
        const bad = checks.filter((k) => !k.pass);
        const worst = checks.reduce((w, k) => (k.worstRatio > w.worstRatio ? k : w), checks[0]);
        const worstText = worst
          ? `worst ${worst.field}: max|err| ${worst.maxAbsErr.toExponential(2)}, ${(worst.worstRatio * 100).toFixed(1)}% of tolerance` +
            (worst.worstIndex >= 0 ? ` at [${worst.worstIndex}]` : '') + (worst.missing ? ' (missing)' : '')
          : 'no fields';
        console.log(`${bad.length ? 'FAIL' : 'ok  '} ${name} [${gfl.backend}] ${checks.length} fields; ${worstText}`);
        for (const k of bad) console.log(`       ${k.field}: ${k.missing ? 'missing or wrong length' : `max|err| ${k.maxAbsErr.toExponential(3)}, ${k.worstRatio.toFixed(2)}× tolerance at [${k.worstIndex}]`}`);
        if (bad.length) failures++;
      } else {
        console.log(`wrote ${join(dir!, `${name}.json`)} [${gfl.backend}]`);
      }
    }
    gfl.dispose();
  }
  if (check) console.log(failures ? `${failures} case run(s) failed` : 'all cases passed');
  return failures ? 1 : 0;
}

async function doctor(): Promise<number> {
  const caps = getCapabilities();
  const cores = await logicalProcessors();
  const runtime = typeof process !== 'undefined' ? `node ${process.versions.node} (${process.platform} ${process.arch})` : 'unknown';
  console.log(`runtime:     ${runtime}`);
  console.log(`wasm:        ${caps.wasm}`);
  console.log(`simd:        ${caps.simd}`);
  console.log(`threads:     ${caps.threads}${caps.threadsReason ? ` (${caps.threadsReason})` : ''}`);
  console.log(`workers:     ${caps.workers}${caps.workersReason ? ` (${caps.workersReason})` : ''}`);
  console.log(`processors:  ${cores}`);
  console.log(`available:   ${availableBackends(caps, { async: true }).join(', ')}`);
  // create what createGfl() creates, so that a pool that cannot start shows here, not in a training run
  let gfl;
  try {
    gfl = await createGfl();
  } catch (e) {
    console.log(`auto picks:  none: ${(e as Error).message}`);
    return 1;
  }
  console.log(`auto picks:  ${gfl.backend}, ${gfl.threads} thread${gfl.threads === 1 ? '' : 's'} (${gfl.backendReason})`);
  await gfl.dispose();
  return 0;
}

/** `gfloss bench`: runs bench/suite.mjs (part of the repository, not of the npm package) with the given arguments. */
function bench(args: string[]): number {
  const suite = join(dirname(fileURLToPath(import.meta.url)), '..', 'bench', 'suite.mjs');
  if (!existsSync(suite)) {
    console.error('gfloss bench: bench/suite.mjs not found; the benchmark suite comes with the repository, not the npm package');
    return 2;
  }
  return spawnSync(process.execPath, [suite, ...args], { stdio: 'inherit' }).status ?? 1;
}

export function main(argv: string[]): number | Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === 'conformance') return conformance(rest);
  if (cmd === 'doctor') return doctor();
  if (cmd === 'bench') return bench(rest);
  console.error(USAGE);
  return cmd === undefined || cmd === '--help' || cmd === 'help' ? 0 : 2;
}
