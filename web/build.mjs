// Bundles each page into dist/<page>/: index.html plus assets/main.js and assets/main.css.
// Everything is in files with relative URLs: the server's Content-Security-Policy allows no
// inline script and nothing from another origin.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const pages = ['dashboard', 'demo'];
// The demo uses the TypeScript SDK from its source in this repository (clients/js), under its
// package name, as an application would.
const sdk = join(here, '..', 'clients', 'js', 'src', 'index.ts');

await rm(dist, { recursive: true, force: true });
for (const page of pages) {
  const out = join(dist, page);
  await mkdir(join(out, 'assets'), { recursive: true });
  await build({
    entryPoints: { main: join(here, 'src', page, 'main.ts') },
    outdir: join(out, 'assets'),
    bundle: true,
    alias: { 'switchboard-client': sdk },
    format: 'iife',
    target: ['es2020'],
    minify: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning',
  });
  await copyFile(join(here, 'src', page, 'index.html'), join(out, 'index.html'));
  await copyFile(join(here, 'src', 'common', 'favicon.svg'), join(out, 'assets', 'favicon.svg'));
  console.log(`built dist/${page}/`);
}
