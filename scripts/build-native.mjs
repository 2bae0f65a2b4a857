#!/usr/bin/env node
// Builds the optional native addon (native/, binding.gyp) with node-gyp at install time.
//
// The addon is optional by design: when the build fails (no compiler, no libopus sources),
// the package still installs and works with the plain decoder and the JS pacer, and
// `codecInfo()` says which implementation loaded. So this script never fails the install.
//
// libopus comes from the sources @discordjs/opus ships (its deps/binding.gyp `libopus` target,
// see binding.gyp), so no system library is needed. The outcome is written to
// build/argon-voice-native-build.json, which the loader quotes when the addon is missing.
//
// Environment: ARGON_VOICE_SKIP_NATIVE=1 skips the build; JOBS=n is passed to node-gyp as --jobs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));

function note(ok, reason) {
  try {
    mkdirSync(join(root, 'build'), { recursive: true });
    writeFileSync(
      join(root, 'build', 'argon-voice-native-build.json'),
      `${JSON.stringify({ ok, reason, node: process.version, at: new Date().toISOString() })}\n`,
    );
  } catch {
    // A read-only install directory: the loader then just says the addon was not found.
  }
}

function skip(reason) {
  console.warn(`argon-voice: ${reason}; the native addon is not built (falling back to JS paths, see codecInfo())`);
  note(false, reason);
  process.exit(0);
}

if (process.env.ARGON_VOICE_SKIP_NATIVE === '1') {
  console.log('argon-voice: ARGON_VOICE_SKIP_NATIVE=1, skipping the native addon build');
  process.exit(0);
}
if (!existsSync(join(root, 'binding.gyp'))) process.exit(0);

let opusDeps;
try {
  opusDeps = join(dirname(require.resolve('@discordjs/opus/package.json')), 'deps', 'binding.gyp');
} catch {
  skip('@discordjs/opus is not installed, so there are no libopus sources to build against');
}
if (!existsSync(opusDeps)) skip(`${opusDeps} is missing (the libopus sources of @discordjs/opus)`);

function findNodeGyp() {
  // npm exposes the node-gyp it bundles to install scripts through this variable.
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  for (const id of ['node-gyp/bin/node-gyp.js', 'npm/node_modules/node-gyp/bin/node-gyp.js']) {
    try {
      return require.resolve(id);
    } catch {}
  }
  // npm's own copy, next to the node binary: <prefix>/lib/node_modules/npm/node_modules/node-gyp.
  const npmDir = join(
    dirname(process.execPath),
    '..',
    'lib',
    'node_modules',
    'npm',
    'node_modules',
    'node-gyp',
    'bin',
    'node-gyp.js',
  );
  return existsSync(npmDir) ? npmDir : undefined;
}

const gyp = findNodeGyp();
if (!gyp) skip('node-gyp not found');

const args = [gyp, 'rebuild'];
// node-gyp downloads Node's headers unless told where they are. Under npm, npm_config_nodedir
// may already say so; otherwise use the headers installed with this node binary when present,
// because an offline machine (or CI without internet) cannot download them.
const prefix = join(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
}
if (process.env.JOBS) args.push(`--jobs=${process.env.JOBS}`);

const started = Date.now();
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: process.env });
if (result.status === 0) {
  console.log(`argon-voice: native addon built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  note(true, undefined);
} else {
  const why = result.error ? result.error.message : `node-gyp exited with ${result.status ?? result.signal}`;
  console.warn(
    `argon-voice: the native addon failed to build (${why}); the package works without it (see codecInfo())`,
  );
  note(false, why);
}
process.exit(0);
