#!/usr/bin/env node
// Builds the optional native addon (native/, binding.gyp) with node-gyp at install time.
//
// The addon is optional by design: when the build fails (no compiler, no libopus sources),
// the package still installs and works with the plain decoder and the JS pacer, and
// `codecInfo()` says which implementation loaded. So this script never fails the install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (process.env.ARGON_VOICE_SKIP_NATIVE === '1') {
  console.log('argon-voice: ARGON_VOICE_SKIP_NATIVE=1, skipping the native addon build');
  process.exit(0);
}
if (!existsSync(join(root, 'binding.gyp'))) process.exit(0);

function findNodeGyp() {
  // npm exposes the node-gyp it bundles to install scripts through this variable.
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  const require = createRequire(import.meta.url);
  for (const id of ['node-gyp/bin/node-gyp.js', 'npm/node_modules/node-gyp/bin/node-gyp.js']) {
    try {
      return require.resolve(id);
    } catch {}
  }
  const npmDir = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  return existsSync(npmDir) ? npmDir : undefined;
}

const gyp = findNodeGyp();
if (!gyp) {
  console.warn('argon-voice: node-gyp not found; the native addon is not built (falling back to JS paths)');
  process.exit(0);
}
const started = Date.now();
const result = spawnSync(process.execPath, [gyp, 'rebuild'], { cwd: root, stdio: 'inherit', env: process.env });
if (result.status === 0) {
  console.log(`argon-voice: native addon built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} else {
  console.warn('argon-voice: the native addon failed to build; the package works without it (see codecInfo())');
}
process.exit(0);
