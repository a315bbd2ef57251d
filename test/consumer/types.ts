// Compiled by tsc under moduleResolution bundler and node16 against the installed package: the types must
// resolve through package.json `exports` (no implicit any), and wrong calls must be type errors.
import { createGfl, createGflSync, getCapabilities, GflInputError, type Gfl, type QflResult, type Capabilities, type BackendName } from 'gfloss';
import { runCase, compareCase, type GoldenCase } from 'gfloss/conformance';

export async function main(c: GoldenCase): Promise<number> {
  const caps: Capabilities = getCapabilities();
  const gfl: Gfl = await createGfl({ backend: caps.simd ? 'wasm-simd' : 'wasm-scalar' });
  const backend: BackendName = gfl.backend;
  const r: QflResult = gfl.qualityFocalLossSync(
    { pred: new Float32Array(8), label: new Int32Array(2), score: new Float32Array(2) },
    { beta: 2, avgFactor: 1, reduction: 'mean' },
  );
  const grad: Float32Array | undefined = r.gradPred;
  const fields = compareCase(c, runCase(gfl, c)).filter((k) => !k.pass).length;
  const fromUrl = await createGfl({ wasmUrl: new URL('https://example.invalid/gfloss-simd.wasm') });
  fromUrl.dispose();
  gfl.dispose();
  // @ts-expect-error: backend names are a union, not any string
  createGflSync({ backend: 'cuda' });
  // @ts-expect-error: the label must be an Int32Array
  gfl.qualityFocalLossSync({ pred: new Float32Array(8), label: [0, 1], score: new Float32Array(2) });
  // @ts-expect-error: loss is a number
  const s: string = r.loss;
  return r.loss + fields + (grad?.length ?? 0) + backend.length + s.length + (new GflInputError('x', 'y').argument ? 1 : 0);
}
