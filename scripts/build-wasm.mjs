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
 * the @inline functions), and here the functions that interleave (INTERLEAVED) get only passes that clean up without
 * moving code: constant branches of the inlined β modes, dead code, unused blocks and names, and locals coalesced
 * (without it JavaScriptCore meets functions with thousands of locals and ran the QFL kernel 5 times slower). Every
 * other function gets Binaryen's -O3 function pipeline, as before (the DFL and GIoU kernels were up to 20 % slower in
 * Node 20 without it). QFL kernel at b8, detector-like logits, same-process A/B against the -O3 build (minima): Deno
 * 11.5 → 8.2 ms, Bun 10.1 → 8.2 ms, Node 20 unchanged (7.8 ms); the GFL head loss in Deno 20.7 → 17.3 ms. The SIMD
 * binaries grow from 0.23 to 0.78 MB (44 to 70 kB gzipped). Losses and gradients are the same bits (no pass changes
 * float arithmetic; the goldens and the builds-agree tests run on them).
 */
const INTERLEAVED = /^assembly\/(qfl\/(labelRows|negativeRun|quadWithPositive|qflLogits|qflProb)|gfl-head\/gflHeadPositives|yolo\/yoloV8Positives)/;
const INTERLEAVED_PASSES = [
  'precompute', 'dce', 'vacuum', 'remove-unused-brs', 'remove-unused-names', 'coalesce-locals', 'merge-blocks',
  'reorder-locals', 'vacuum',
];

function optimizeSimdBuild(file) {
  const wasmPath = join(root, 'build', `${file}.wasm`), watPath = join(root, 'build', `${file}.wat`);
  // function names in index order, from the text asc wrote beside the binary (the binary has no name section)
  const names = [...readFileSync(watPath, 'utf8').matchAll(/^ \(func \$(\S+)/gm)].map((m) => m[1]);
  const mod = binaryen.readBinary(readFileSync(wasmPath));
  // the passes only rewrite and remove code, so allowing every feature cannot add one the runtimes lack (the tests
  // run both builds in Node, Deno, Bun, workerd and Chromium)
  mod.setFeatures(binaryen.Features.All);
  binaryen.setOptimizeLevel(3);
  binaryen.setShrinkLevel(0);
  if (mod.getNumFunctions() !== names.length) {
    console.error(`build/${file}.wat names ${names.length} functions, the binary has ${mod.getNumFunctions()}`);
    process.exit(1);
  }
  let interleaved = 0;
  for (let i = 0; i < names.length; i++) {
    const f = mod.getFunctionByIndex(i);
    if (INTERLEAVED.test(names[i])) { mod.runPassesOnFunction(f, INTERLEAVED_PASSES); interleaved++; }
    else mod.optimizeFunction(f);
  }
  mod.runPasses(['remove-unused-module-elements']);
  if (interleaved < 10 || !mod.validate()) {
    console.error(`build/${file}.wasm: ${interleaved} interleaved functions found, valid ${mod.validate()}`);
    process.exit(1);
  }
  writeFileSync(wasmPath, mod.emitBinary());
  writeFileSync(watPath, mod.emitText());
  mod.dispose();
}

for (const t of targets) {
  execFileSync(process.execPath, [asc, '--config', 'asconfig.json', '--target', t.target], { cwd: root, stdio: 'inherit' });
  if (t.interleaved) optimizeSimdBuild(t.file);
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
out += 'export const WASM_BINARIES: Record<\'scalar\' | \'simd\' | \'simdThreads\', { file: string; sha256: string; base64: string }> = {\n';
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
