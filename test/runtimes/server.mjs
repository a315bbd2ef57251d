// A static file server for the browser checks, on 127.0.0.1 and a free port. Every response carries a strict
// Content-Security-Policy (no 'unsafe-eval', no inline scripts: the package must work without eval or new Function;
// wasm compilation needs 'wasm-unsafe-eval'). With `isolated`, every response also carries COOP/COEP/CORP, which makes
// the page cross-origin isolated (SharedArrayBuffer, threads); without it the page is not.
//   mounts: { '/': dir, '/goldens/': dir2 }; GET <mount>index.json lists that folder's files.
import { createServer } from 'node:http';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, normalize, extname } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json', '.wasm': 'application/wasm', '.gz': 'application/octet-stream', '.map': 'application/json',
};

export const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; style-src 'self'";

export function startServer({ mounts, isolated }) {
  const entries = Object.entries(mounts).sort((a, b) => b[0].length - a[0].length);
  const server = createServer(async (req, res) => {
    const headers = { 'Content-Security-Policy': CSP, 'Cache-Control': 'no-store' };
    if (isolated) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      headers['Cross-Origin-Resource-Policy'] = 'same-origin';
    }
    try {
      const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      const mount = entries.find(([prefix]) => path.startsWith(prefix));
      if (!mount || path.includes('\0')) throw Object.assign(new Error('not found'), { status: 404 });
      const rel = normalize(path.slice(mount[0].length));
      if (rel.startsWith('..')) throw Object.assign(new Error('forbidden'), { status: 403 });
      let body;
      let type;
      if (rel.endsWith('index.json') && !(await stat(join(mount[1], rel)).catch(() => null))) {
        body = JSON.stringify((await readdir(join(mount[1], rel, '..'))).sort());
        type = TYPES['.json'];
      } else {
        body = await readFile(join(mount[1], rel === '.' || rel.endsWith('/') ? join(rel, 'index.html') : rel));
        type = TYPES[extname(rel)] ?? 'application/octet-stream';
      }
      res.writeHead(200, { ...headers, 'Content-Type': type });
      res.end(body);
    } catch (e) {
      res.writeHead(e.status ?? (e.code === 'ENOENT' || e.code === 'EISDIR' ? 404 : 500), { ...headers, 'Content-Type': 'text/plain' });
      res.end(String(e.message));
    }
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
      });
    });
  });
}
