// Builds the three kernel binaries from assembly/ (targets in asconfig.json), checks that the threads build can live
// on shared memory (no data segments, no globals, no start function), and writes src/generated/wasm.ts, which embeds
// the binaries as base64 so that the default loading path needs no file access, fetch or bundler configuration.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import binaryen from 'binaryen';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
const targets = [
  { target: 'scalar', file: 'gfloss', key: 'scalar' },
  { target: 'simd', file: 'gfloss-simd', key: 'simd', interleaved: true },
  { target: 'simd-threads', file: 'gfloss-simd-threads', key: 'simdThreads', interleaved: true },
];

/**
 * How the SIMD builds are optimized. The SIMD kernels apply each stage of exp, log1p and the rest to four independent
 * vectors before the next stage, so that the CPU overlaps four chains of dependent operations. Binaryen's -O3
 * (simplify-locals) sinks every single-use value into its use, which turns that into four chains one after another;
 * Node 20's TurboFan reorders them again, but Turboshaft (V8 12 and later: Node 22+, Chromium, Deno) and JavaScriptCore
 * (Bun) keep the order they are given. So asconfig.json compiles the SIMD targets at optimizeLevel 0 (asc still inlines
 * the @inline functions; `--debug` here only keeps the function names, which are dropped again from the binary), and
 * the functions that interleave (INTERLEAVED) get only passes that clean up without moving code: constant branches of
 * the inlined β modes, dead code, unused blocks and names, and locals coalesced (without it JavaScriptCore meets
 * functions with thousands of locals and ran the QFL kernel 5 times slower). Every other function gets Binaryen's
 * function pipeline at level 3, one function at a time; unlike asc's -O3 module pipeline before, nothing is inlined
 * across functions afterwards (three small helpers stay calls) and fast-math is off: the same bits, and the DFL, GIoU,
 * CIoU, ATSS, task-aligned, decode and NMS kernels within ±4 % in Node 20 by a review's same-process comparison (the
 * whole module without sinking had left DFL and GIoU up to 20 % slower there). QFL kernel at b8, detector-like logits,
 * same-process A/B against the -O3 build (minima): Deno 11.5 → 8.2 ms, Bun 10.1 → 8.2 ms, Node 20 7.8 ms within 1–4 %;
 * the GFL head loss in Deno 20.7 → 17.3 ms. The SIMD binaries grow from 0.23 to 0.78 MB (44 to 70 kB gzipped). Losses
 * and gradients are the same bits (a review compared about 84 million outputs of every kernel: no difference).
 */
const INTERLEAVED = new Set([
  ...['labelRows', 'negativeRun', 'quadWithPositive']
    .flatMap((f) => ['Two', 'Zero', 'Any'].map((m) => `assembly/qfl/${f}${m}`)),
  'assembly/qfl/qflLogits', 'assembly/qfl/qflLogitsDense', 'assembly/qfl/qflProb',
  'assembly/gfl-head/gflHeadPositives', 'assembly/yolo/yoloV8Positives',
]);
const INTERLEAVED_PASSES = [
  'precompute', 'dce', 'vacuum', 'remove-unused-brs', 'remove-unused-names', 'coalesce-locals', 'merge-blocks',
  'reorder-locals', 'vacuum',
];

/** The features asc enables for these targets; set explicitly so that no pass may use one beyond them. */
function simdFeatures(threads) {
  const F = binaryen.Features;
  return F.MVP | F.MutableGlobals | F.SignExt | F.NontrappingFPToInt | F.BulkMemory | F.BulkMemoryOpt | F.SIMD128 |
    (threads ? F.Atomics : 0);
}

function optimizeSimdBuild(file, threads) {
  const wasmPath = join(root, 'build', `${file}.wasm`), watPath = join(root, 'build', `${file}.wat`);
  binaryen.setDebugInfo(true); // read the names asc's --debug wrote
  const mod = binaryen.readBinary(readFileSync(wasmPath));
  mod.setFeatures(simdFeatures(threads));
  binaryen.setOptimizeLevel(3);
  binaryen.setShrinkLevel(0);
  const found = new Set();
  for (let i = 0; i < mod.getNumFunctions(); i++) {
    const f = mod.getFunctionByIndex(i), name = binaryen.getFunctionInfo(f).name;
    if (INTERLEAVED.has(name)) { mod.runPassesOnFunction(f, INTERLEAVED_PASSES); found.add(name); }
    else mod.optimizeFunction(f);
  }
  // a renamed or removed kernel would otherwise quietly get the sinking passes
  const missing = [...INTERLEAVED].filter((n) => !found.has(n));
  if (missing.length) {
    console.error(`build/${file}.wasm: no function named ${missing.join(', ')} (update INTERLEAVED here)`);
    process.exit(1);
  }
  mod.runPasses(['remove-unused-module-elements']);
  if (!mod.validate()) {
    console.error(`build/${file}.wasm does not validate after the passes`);
    process.exit(1);
  }
  writeFileSync(watPath, mod.emitText());
  binaryen.setDebugInfo(false); // the binary ships without the name section, as before
  writeFileSync(wasmPath, mod.emitBinary());
  mod.dispose();
}

// the Binaryen that runs the passes is the one asc uses (package.json pins the same version)
const readJson = (...path) => JSON.parse(readFileSync(join(root, ...path), 'utf8'));
const ascBinaryen = readJson('node_modules', 'assemblyscript', 'package.json').dependencies.binaryen;
const ownBinaryen = readJson('package.json').devDependencies.binaryen;
if (ascBinaryen !== ownBinaryen) {
  console.error(`package.json pins binaryen ${ownBinaryen}, assemblyscript uses ${ascBinaryen}: make them the same`);
  process.exit(1);
}

for (const t of targets) {
  const args = [asc, '--config', 'asconfig.json', '--target', t.target, ...(t.interleaved ? ['--debug'] : [])];
  execFileSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (t.interleaved) optimizeSimdBuild(t.file, t.target === 'simd-threads');
}

// Every instance re-applies active data segments onto the memory it imports, so on shared memory a segment or a
// global would be rewritten under running workers. The threads build must have neither.
const wat = readFileSync(join(root, 'build', 'gfloss-simd-threads.wat'), 'utf8');
const problems = [];
if (/^\s*\(data\b/m.test(wat)) problems.push('data segment');
if (/^\s*\(global\b/m.test(wat)) problems.push('global');
if (/^\s*\(start\b/m.test(wat)) problems.push('start function');
if (!/\(import "env" "memory" \(memory \$[\w$]+ \d+ \d+ shared\)\)/.test(wat)) problems.push('shared imported memory missing');
if (problems.length) {
  console.error(`build/gfloss-simd-threads.wasm cannot run on shared memory: it has ${problems.join(', ')}`);
  process.exit(1);
}

mkdirSync(join(root, 'src', 'generated'), { recursive: true });
let out = '// Generated by scripts/build-wasm.mjs from assembly/. Do not edit.\n';
out += '/** The kernel binaries, base64-encoded, with their SHA-256 (first 16 hex digits). */\n';
// an explicit type: inferred from the literal, the type would spell out every base64 string, past what tsc serialises
out += 'export const WASM_BINARIES: Record<\'scalar\' | \'simd\' | \'simdThreads\',\n';
out += '  { file: string; sha256: string; base64: string }> = {\n';
for (const t of targets) {
  const bytes = readFileSync(join(root, 'build', `${t.file}.wasm`));
  const sha = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  out += `  ${t.key}: { file: '${t.file}.wasm', sha256: '${sha}', base64: '${bytes.toString('base64')}' },\n`;
  console.log(`build/${t.file}.wasm  ${bytes.length} bytes  sha256 ${sha}`);
}
out += '};\n';
writeFileSync(join(root, 'src', 'generated', 'wasm.ts'), out);

// Test-only probe (test/math.test.ts): array-wide wrappers around both tiers of assembly/math.ts, built with SIMD
// and the kernels' options, and deliberately not embedded above. It is built from the command line, not as a
// target of asconfig.json, because asc adds that file's top-level "entries" (assembly/index.ts) to every target,
// and a target cannot name its own entries; asc runs in assembly/, where it finds no asconfig.json to apply.
execFileSync(process.execPath, [
  asc, 'math-probe.ts', '-O3', '--noAssert', '--runtime', 'stub', '--importMemory', '--initialMemory', '1',
  '--enable', 'simd', '-o', '../build/math-probe.wasm', '-t', '../build/math-probe.wat',
], { cwd: join(root, 'assembly'), stdio: 'inherit' });
if (/\(export "qflLogits"/.test(readFileSync(join(root, 'build', 'math-probe.wat'), 'utf8'))) {
  console.error('build/math-probe.wasm picked up the kernel entries: an asconfig.json was applied to it');
  process.exit(1);
}
console.log(`build/math-probe.wasm  ${readFileSync(join(root, 'build', 'math-probe.wasm')).length} bytes  (test only)`);
