#!/usr/bin/env node
/**
 * Bundles the dashboard page (ui/) into dist/ui/: index.html, app.js (Preact + htm and the page,
 * minified) and app.css. Run by `npm run build`; the package ships dist/, so the sidecar serves the
 * page without anything from the network.
 */
'use strict';
const esbuild = require('esbuild');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'dist', 'ui');

fs.mkdirSync(out, { recursive: true });
esbuild.buildSync({
  entryPoints: [path.join(root, 'ui', 'app.ts')],
  outfile: path.join(out, 'app.js'),
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  legalComments: 'none',
  logLevel: 'warning',
});
fs.copyFileSync(path.join(root, 'ui', 'index.html'), path.join(out, 'index.html'));
