// Runs a command to completion with a time limit. A process still running at the limit is killed and reported: for
// the runtime checks that means it did not exit by itself (a worker or handle left alive), which fails the test.
import { spawn } from 'node:child_process';
import { existsSync, cpSync, mkdirSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { expect } from 'vitest';

export interface RunResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; timedOut: boolean; ms: number }

export function run(cmd: string, args: string[], opts: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<RunResult> {
  if (!existsSync(cmd) && cmd.includes('/')) {
    return Promise.reject(new Error(`${cmd} is missing: install the devDependencies (npm ci); a missing runtime fails, never skips`));
  }
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '', timedOut = false;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, opts.timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr, timedOut, ms: Date.now() - t0 }); });
  });
}

/** What a run printed, for assertion messages. */
export function describeRun(r: RunResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}${r.timedOut ? ' after the time limit: it did not exit by itself' : ''}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;
}

/** The `GFLOSS-SMOKE {json}` line a smoke driver prints. */
export function smokeSummary(text: string): any {
  const line = text.split('\n').find((l) => l.startsWith('GFLOSS-SMOKE '));
  if (!line) throw new Error(`no GFLOSS-SMOKE line in the output:\n${text.slice(-4000)}`);
  return JSON.parse(line.slice('GFLOSS-SMOKE '.length));
}

/** Copies files from test/runtimes (or another folder) into a fresh subfolder of the consumer folder. */
export function stage(consumerDir: string, name: string, from: string, files: string[]): string {
  const dir = join(consumerDir, name);
  mkdirSync(dir, { recursive: true });
  for (const f of files) cpSync(join(from, f), join(dir, f));
  return dir;
}

/** With GFLOSS_SMOKE_LOG=file, appends each runtime's summary there (for looking at what ran, and how long it took). */
export function keepSummary(name: string, summary: unknown): void {
  const file = process.env.GFLOSS_SMOKE_LOG;
  if (file) appendFileSync(file, `${name} ${JSON.stringify(summary)}\n`);
}

/**
 * The threads part of a smoke summary: 'wasm-simd-threads' offered, run with 1 and 2 threads over the goldens' calls
 * and the training-sized calls (also concurrently, and the step with zero-copy buffers), each bit for bit equal to
 * single-thread SIMD; auto picks threads where there is more than one logical processor.
 */
export function expectThreads(s: any): void {
  expect(s.asyncBackends).toContain('wasm-simd-threads');
  for (const n of [1, 2]) {
    const t = s.threads?.[n];
    expect(t, `${n} thread(s)`).toMatchObject({ backend: 'wasm-simd-threads', threads: n, largeCalls: 8, zeroCopyStep: true, concurrent: true });
    expect(t.goldenCalls, `${n} thread(s)`).toBeGreaterThanOrEqual(60);
  }
  expect(s.auto.backend).toBe(availableParallelism() > 1 ? 'wasm-simd-threads' : 'wasm-simd');
}
