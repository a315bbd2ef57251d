// The golden smoke test shared by every runtime (Node, Deno, Bun, Chromium, workerd): plain ESM with no imports, so
// that each runtime's driver hands it the package (imported by name), the conformance helpers and the golden cases
// as bytes, and prints the summary it returns. Runs every public golden whose op the package supports on every
// backend the runtime offers, and checks each one against the case's own values under its tolerance hints.

/** Decodes one golden case from its file bytes (gzip via DecompressionStream, which every target runtime has). */
export async function decodeCase(bytes, gzipped) {
  let text;
  if (gzipped) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    text = await new Response(stream).text();
  } else {
    text = new TextDecoder().decode(bytes);
  }
  return JSON.parse(text);
}

export function runtimeName() {
  const g = globalThis;
  if (g.navigator?.userAgent === 'Cloudflare-Workers') return 'workerd';
  if (typeof g.Deno !== 'undefined') return 'deno';
  if (typeof g.Bun !== 'undefined') return 'bun';
  if (typeof g.window !== 'undefined' && typeof g.document !== 'undefined') return 'browser';
  if (typeof g.process?.versions?.node === 'string') return 'node';
  return 'unknown';
}

function runtimeVersion() {
  const g = globalThis;
  if (typeof g.Deno !== 'undefined') return g.Deno.version.deno;
  if (typeof g.Bun !== 'undefined') return g.Bun.version;
  return g.navigator?.userAgent ?? g.process?.version ?? '';
}

function sameBits(a, b) {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}

/** Every output and gradient of two runs of one case, compared bit for bit (NaN == NaN: engines may differ in its sign). */
export function compareBits(r1, r2) {
  const diffs = [];
  for (const [k, v] of Object.entries(r1.outputs)) if (!sameBits(v, r2.outputs[k])) diffs.push(`outputs.${k}`);
  for (const [o, g] of Object.entries(r1.grads)) for (const [k, v] of Object.entries(g)) if (!sameBits(v, r2.grads[o][k])) diffs.push(`grads.${o}.${k}`);
  return diffs;
}

/**
 * @param {object} o
 * @param {object} o.gfloss       the package's namespace (import * as gfloss from 'gfloss')
 * @param {object} o.conformance  import * as conformance from 'gfloss/conformance'
 * @param {Array<{file: string, case: object}>} o.cases  every golden file, decoded
 * @param {Record<string, string|URL>} [o.wasmUrls]  backend -> URL of its .wasm: also load each through createGfl({ wasmUrl })
 *                                  and check that it gives the embedded module's results bit for bit
 */
export async function runGoldens({ gfloss, conformance, cases, wasmUrls }) {
  const t0 = Date.now();
  const caps = gfloss.getCapabilities();
  const backends = gfloss.availableBackends(caps);
  const supported = cases.filter((c) => conformance.SUPPORTED_OPS.includes(c.case.op));
  const unsupported = cases.filter((c) => !conformance.SUPPORTED_OPS.includes(c.case.op)).map((c) => `${c.file} (${c.case.op})`);
  const failures = [];
  const perBackend = {};
  const auto = await gfloss.createGfl();
  const summary = {
    runtime: runtimeName(), version: runtimeVersion(), capabilities: caps, backends, auto: { backend: auto.backend, reason: auto.backendReason },
    files: cases.length, unsupported, perBackend, wasmUrl: {}, failures,
  };
  auto.dispose();
  const reference = {};
  for (const backend of backends) {
    const g = await gfloss.createGfl({ backend });
    if (g.backend !== backend) failures.push(`createGfl({ backend: '${backend}' }) gave ${g.backend}`);
    let passed = 0;
    reference[backend] = {};
    for (const { file, case: c } of supported) {
      try {
        const r = conformance.runCase(g, c);
        reference[backend][file] = r;
        const bad = conformance.compareCase(c, r).filter((k) => !k.pass);
        if (bad.length) failures.push(`${file} [${backend}]: ${bad.map((k) => `${k.field} max|err| ${k.maxAbsErr}`).join('; ')}`);
        else passed++;
      } catch (e) {
        failures.push(`${file} [${backend}]: threw ${e && e.stack || e}`);
      }
    }
    perBackend[backend] = passed;
    g.dispose();
  }
  for (const [backend, url] of Object.entries(wasmUrls ?? {})) {
    try {
      const g = await gfloss.createGfl({ backend, wasmUrl: url });
      let same = 0;
      for (const { file, case: c } of supported) {
        const diffs = compareBits(conformance.runCase(g, c), reference[backend][file]);
        if (diffs.length) failures.push(`${file} [${backend} via wasmUrl]: differs from the embedded module in ${diffs.join(', ')}`);
        else same++;
      }
      summary.wasmUrl[backend] = same;
      g.dispose();
    } catch (e) {
      failures.push(`wasmUrl ${String(url)} [${backend}]: threw ${e && e.stack || e}`);
    }
  }
  summary.ms = Date.now() - t0;
  return summary;
}
