// Packs the package as npm would publish it (`npm pack`) and installs the tarball into a temporary consumer folder
// (node_modules/gfloss, package.json with "type": "module"). The runtime and consumer tests import `gfloss` by name
// from there, so they see what a user gets: the `files` list, the `exports` map and its conditions.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ROOT } from './paths.js';

declare module 'vitest' {
  export interface ProvidedContext {
    consumerDir: string;
  }
}

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'gfloss-consumer-'));
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const out = execFileSync(npm, ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const tarball = join(dir, (JSON.parse(out) as Array<{ filename: string }>)[0].filename);
  const pkg = join(dir, 'node_modules', 'gfloss');
  mkdirSync(pkg, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', pkg, '--strip-components=1']);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'gfloss-consumer', private: true, type: 'module', dependencies: { gfloss: `file:${tarball}` } }, null, 2));
  project.provide('consumerDir', dir);
  return () => rmSync(dir, { recursive: true, force: true });
}
