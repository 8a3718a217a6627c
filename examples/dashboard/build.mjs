// Bundles the page (web/) into dist/ with the TypeScript SDK, taken from its source in this
// repository (clients/js) under its package name, as an application would import it from npm.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';

const here = new URL('.', import.meta.url).pathname;
await rm(`${here}dist`, { recursive: true, force: true });
await mkdir(`${here}dist/assets`, { recursive: true });
await build({
  entryPoints: { main: `${here}web/main.ts` },
  outdir: `${here}dist/assets`,
  bundle: true,
  alias: { 'switchboard-client': `${here}../../clients/js/src/index.ts` },
  format: 'esm',
  target: ['es2022'],
  minify: process.env.MINIFY !== '0',  // MINIFY=0 for readable stack traces
  sourcemap: 'linked',
  logLevel: 'warning',
});
await copyFile(`${here}web/index.html`, `${here}dist/index.html`);
console.log('built dist/');
