/**
 * Loader for the optional native addon `build/Release/argon_voice_native.node` (sources in `native/`,
 * built by `scripts/build-native.mjs` at install time against the libopus sources that
 * `@discordjs/opus` ships).
 *
 * @remarks
 * The addon is optional by design: when the install-time build failed, or when
 * `ARGON_VOICE_NO_NATIVE=1` is set, {@link loadNative} returns `undefined`, the decoder falls back to
 * `@discordjs/opus` / opusscript and the pacer to JS timers, and {@link nativeLoadError} (surfaced by
 * `codecInfo()`) says why. Loading is attempted once per process (per worker thread) and cached.
 * @packageDocumentation
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's API version this loader understands (`ARGON_VOICE_NATIVE_ABI` in the C source). */
export const NATIVE_ABI_VERSION = 1;

/**
 * A libopus decoder that writes into caller-owned buffers. Every method throws a plain `Error` whose
 * `code` is `OPUS_BAD_ARG`, `OPUS_INVALID_PACKET`, ... and whose message is libopus's `opus_strerror`
 * text; `OpusDecoder` turns those into {@link InvalidInputError}s.
 */
export interface NativeDecoder {
  /**
   * Decodes `packet` into `out` (interleaved s16). `out.length / channels` is the frame size handed
   * to `opus_decode`, so it must hold the whole packet (5760 × channels always does).
   *
   * With `fec = true`, decodes the in-band FEC data carried by `packet` to rebuild the frame *before*
   * it, for exactly `out.length / channels` samples (`decode_fec = 1`); libopus conceals the part the
   * FEC does not cover, or all of it when `packet` has no FEC (CELT-only).
   * @returns samples per channel written.
   */
  decodeInto(packet: Uint8Array, out: Int16Array, fec: boolean): number;
  /**
   * Packet-loss concealment for exactly `out.length / channels` samples (a multiple of 2.5 ms):
   * `opus_decode(NULL, 0, out, frame_size, 0)`.
   * @returns samples per channel written.
   */
  concealInto(out: Int16Array): number;
  /** `OPUS_RESET_STATE`: forget the stream history (after a long gap or a new speaker). */
  reset(): void;
  /** `OPUS_GET_LAST_PACKET_DURATION`: samples per channel of the last packet decoded or concealed. */
  lastPacketDuration(): number;
  /** Frees the libopus state now rather than at garbage collection. Idempotent; later calls throw. */
  close(): void;
}

/** Result of {@link NativeAddon.setRealtimePriority} and {@link NativeAddon.getThreadPolicy}. */
export interface ThreadPolicy {
  /** Scheduling policy of the calling thread after the call: `'fifo'`, `'rr'`, `'other'`, ... */
  policy: string;
  /** Its static priority (0 for `'other'`). */
  priority: number;
}

/** Result of {@link NativeAddon.setRealtimePriority}. */
export interface RealtimeResult extends ThreadPolicy {
  /** True when the thread now runs SCHED_FIFO at the requested priority. */
  ok: boolean;
  /** `strerror` text when refused (EPERM without root, CAP_SYS_NICE or RLIMIT_RTPRIO). */
  error?: string;
}

/** The functions `argon_voice_native.node` exports. */
export interface NativeAddon {
  /** `new Decoder(sampleRate = 48000, channels = 1)`; sampleRate is 8000, 12000, 16000, 24000 or 48000. */
  Decoder: new (
    sampleRate: number,
    channels: 1 | 2,
  ) => NativeDecoder;
  /** `clock_gettime(CLOCK_MONOTONIC)` in nanoseconds. */
  monotonicNs(): bigint;
  /**
   * Blocks the calling thread until CLOCK_MONOTONIC reaches `ns` (`clock_nanosleep` with
   * `TIMER_ABSTIME`, restarted on EINTR). Returns at once for a deadline in the past.
   * Meant for the pacer's worker thread: on the main thread it freezes the event loop.
   */
  sleepUntilNs(ns: bigint): void;
  /**
   * Asks for SCHED_FIFO at `priority` (1..99) for the calling thread only. Never throws for a
   * refusal; the result says what happened.
   */
  setRealtimePriority(priority: number): RealtimeResult;
  /** Scheduling policy and priority of the calling thread. */
  getThreadPolicy(): ThreadPolicy;
  /** `opus_get_version_string()`, e.g. `'libopus 1.3.1'`. */
  libopusVersion(): string;
  /** API version of the build; the loader rejects a build whose version differs from {@link NATIVE_ABI_VERSION}. */
  abiVersion: number;
  /** 5760: samples per channel of the longest packet (120 ms at 48 kHz). */
  maxFrameSamples: number;
}

const ADDON_FILE = 'argon_voice_native.node';

let cached: { addon: NativeAddon; path: string } | { error: string } | undefined;

/**
 * Finds the package root by walking up from this module to the first `package.json` named
 * `argon-voice`. That covers `src/codec/` (tsx, vitest) and `dist/src/codec/` (after tsc) alike.
 */
function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'argon-voice') return dir;
      } catch {
        // An unreadable package.json in between (dist/ has none, but a bundler might) is not ours.
      }
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

function isAddon(m: unknown): m is NativeAddon {
  const a = m as Partial<NativeAddon> | null;
  return (
    !!a &&
    typeof a.Decoder === 'function' &&
    typeof a.monotonicNs === 'function' &&
    typeof a.sleepUntilNs === 'function' &&
    typeof a.setRealtimePriority === 'function' &&
    typeof a.getThreadPolicy === 'function' &&
    typeof a.libopusVersion === 'function'
  );
}

/** Why the install-time build failed, when `scripts/build-native.mjs` left a note. */
function buildNote(root: string): string {
  try {
    const s = JSON.parse(readFileSync(join(root, 'build', 'argon-voice-native-build.json'), 'utf8')) as {
      ok?: boolean;
      reason?: string;
    };
    return s.ok === false && s.reason ? ` (install-time build: ${s.reason})` : '';
  } catch {
    return '';
  }
}

function tryLoad(): { addon: NativeAddon; path: string } | { error: string } {
  if (process.env.ARGON_VOICE_NO_NATIVE === '1') {
    return { error: 'disabled by ARGON_VOICE_NO_NATIVE=1' };
  }
  const root = packageRoot();
  if (root === undefined) return { error: 'argon-voice package root not found from the loader module' };
  const require = createRequire(join(root, 'package.json'));
  const errors: string[] = [];
  for (const config of ['Release', 'Debug']) {
    const path = join(root, 'build', config, ADDON_FILE);
    if (!existsSync(path)) continue;
    try {
      const mod: unknown = require(path);
      if (!isAddon(mod)) {
        errors.push(`${path} does not export the expected API`);
        continue;
      }
      if (mod.abiVersion !== NATIVE_ABI_VERSION) {
        errors.push(
          `${path} is a stale build (abi ${mod.abiVersion}, want ${NATIVE_ABI_VERSION}); rebuild with npm rebuild argon-voice`,
        );
        continue;
      }
      return { addon: mod, path };
    } catch (err) {
      // A build for another Node ABI or libc fails here; keep the first line, the rest is a stack.
      errors.push(`${path}: ${String((err as Error).message ?? err).split('\n')[0]}`);
    }
  }
  if (errors.length === 0) errors.push(`build/Release/${ADDON_FILE} not found${buildNote(root)}`);
  return { error: errors.join('; ') };
}

/**
 * Loads the native addon once and caches the outcome.
 * @returns the addon, or `undefined` when it is not built, fails to load, or
 *   `ARGON_VOICE_NO_NATIVE=1` is set (then {@link nativeLoadError} says which).
 */
export function loadNative(): NativeAddon | undefined {
  cached ??= tryLoad();
  return 'addon' in cached ? cached.addon : undefined;
}

/** Why {@link loadNative} returned `undefined`; `undefined` when the addon loaded. */
export function nativeLoadError(): string | undefined {
  cached ??= tryLoad();
  return 'error' in cached ? cached.error : undefined;
}

/**
 * Absolute path of the loaded addon file, or `undefined`.
 * @remarks A worker thread (the pacer's) that cannot import this module can `require()` this path
 * directly: the addon is context-aware, so each thread gets its own instance.
 */
export function nativeAddonPath(): string | undefined {
  cached ??= tryLoad();
  return 'path' in cached ? cached.path : undefined;
}
