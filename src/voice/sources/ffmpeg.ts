/**
 * Finding a working ffmpeg binary, and running it as a child process that is always reaped.
 * @packageDocumentation
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { DependencyError } from '../../errors.js';

/** Where a candidate binary came from, in the order they are tried. */
export type FfmpegOrigin = 'FFMPEG_PATH' | 'ffmpeg-static' | '@ffmpeg-installer/ffmpeg' | 'PATH';

/** One candidate's outcome, kept for the error message. */
export interface FfmpegCandidate {
  origin: FfmpegOrigin;
  /** The path tried, when the origin gave one. */
  path: string | undefined;
  /** Why it was rejected, or `'ok'`. */
  detail: string;
}

/** A verified ffmpeg binary. */
export interface ResolvedFfmpeg {
  path: string;
  origin: FfmpegOrigin;
  /** First line of `ffmpeg -version`. */
  version: string;
}

/** Options of {@link resolveFfmpeg}; the overrides exist for tests and unusual setups. */
export interface ResolveFfmpegOptions {
  /** Environment to read `FFMPEG_PATH` and `PATH` from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /**
   * Resolves an npm package's export (default: `require(name)`). Return `undefined` or throw when
   * the package is absent.
   */
  requirePackage?: (name: 'ffmpeg-static' | '@ffmpeg-installer/ffmpeg') => unknown;
  /** Ignore the cached result and look again (the per-path `-version` cache is still used). */
  refresh?: boolean;
}

const require = createRequire(import.meta.url);
// `-version` runs once per path for the life of the process (the brief: verify once, cache).
const versionCache = new Map<string, Promise<string>>();
let defaultResult: Promise<ResolvedFfmpeg> | undefined;

async function verify(path: string): Promise<string> {
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new Error('file does not exist');
  if (!st.isFile()) throw new Error('not a regular file');
  await access(path, fsConstants.X_OK).catch(() => {
    throw new Error('file is not executable');
  });
  let cached = versionCache.get(path);
  if (!cached) {
    cached = new Promise<string>((resolve, reject) => {
      execFile(path, ['-version'], { timeout: 10_000, windowsHide: true, maxBuffer: 1 << 20 }, (err, stdout) => {
        if (err) reject(new Error(`'-version' failed: ${err.message.split('\n')[0]}`));
        else {
          const first = String(stdout).split('\n')[0]?.trim() ?? '';
          if (!/^ffmpeg version/i.test(first))
            reject(new Error(`'-version' printed "${first.slice(0, 80)}", not ffmpeg's banner`));
          else resolve(first);
        }
      });
    });
    versionCache.set(path, cached);
    // A failure is cached too: a broken binary does not get better by re-running it.
  }
  return cached;
}

function packagePath(name: 'ffmpeg-static' | '@ffmpeg-installer/ffmpeg', load: (n: typeof name) => unknown): string {
  let mod: unknown;
  try {
    mod = load(name);
  } catch (err) {
    throw new Error(`package not installed (${(err as Error).message.split('\n')[0]})`);
  }
  // ffmpeg-static exports the path string (null on unsupported platforms); the installer exports { path }.
  const p = typeof mod === 'string' ? mod : (mod as { path?: unknown } | null | undefined)?.path;
  if (typeof p !== 'string' || p.length === 0)
    throw new Error('package is installed but gives no binary for this platform');
  return p;
}

/**
 * Finds a working ffmpeg, trying in order: `$FFMPEG_PATH`, the `ffmpeg-static` package, the
 * `@ffmpeg-installer/ffmpeg` package, then `ffmpeg` on `$PATH`. Each candidate must exist, be
 * executable and answer `-version` with ffmpeg's banner (run once per path, cached). The default
 * lookup is cached for the process.
 * @throws {@link DependencyError} naming all four candidates and what each gave when none works.
 */
export function resolveFfmpeg(options: ResolveFfmpegOptions = {}): Promise<ResolvedFfmpeg> {
  const isDefault = options.env === undefined && options.requirePackage === undefined;
  if (isDefault && !options.refresh && defaultResult) return defaultResult;
  const p = lookup(options);
  if (isDefault) {
    defaultResult = p;
    // Do not pin a failure: ffmpeg may be installed while the process runs.
    p.catch(() => {
      if (defaultResult === p) defaultResult = undefined;
    });
  }
  return p;
}

async function lookup(options: ResolveFfmpegOptions): Promise<ResolvedFfmpeg> {
  const env = options.env ?? process.env;
  const load = options.requirePackage ?? ((name: string) => require(name));
  const tried: FfmpegCandidate[] = [];
  const attempt = async (origin: FfmpegOrigin, getPath: () => string): Promise<ResolvedFfmpeg | undefined> => {
    let path: string | undefined;
    try {
      path = getPath();
      const version = await verify(path);
      return { path, origin, version };
    } catch (err) {
      tried.push({ origin, path, detail: (err as Error).message });
      return undefined;
    }
  };
  const fromEnv = await attempt('FFMPEG_PATH', () => {
    const v = env.FFMPEG_PATH;
    if (!v) throw new Error('not set');
    return v;
  });
  if (fromEnv) return fromEnv;
  const fromStatic = await attempt('ffmpeg-static', () => packagePath('ffmpeg-static', load));
  if (fromStatic) return fromStatic;
  const fromInstaller = await attempt('@ffmpeg-installer/ffmpeg', () => packagePath('@ffmpeg-installer/ffmpeg', load));
  if (fromInstaller) return fromInstaller;
  const dirs = (env.PATH ?? '').split(delimiter).filter(Boolean);
  const exe = process.platform === 'win32' ? 'ffmpeg.exe' : 'ffmpeg';
  const pathTried: string[] = [];
  for (const dir of dirs) {
    const candidate = join(dir, exe);
    if (!(await stat(candidate).catch(() => undefined))) continue;
    pathTried.push(candidate);
    const found = await attempt('PATH', () => candidate);
    if (found) return found;
  }
  if (pathTried.length === 0)
    tried.push({ origin: 'PATH', path: undefined, detail: `no ${exe} in ${dirs.length} PATH directories` });
  const lines = tried.map((t) => `  - ${t.origin}${t.path ? ` (${t.path})` : ''}: ${t.detail}`);
  throw new DependencyError(
    `ffmpeg not found. Tried, in order:\n${lines.join('\n')}\n` +
      'Install ffmpeg, `npm install ffmpeg-static` or `@ffmpeg-installer/ffmpeg`, or set FFMPEG_PATH.',
  );
}

/** A running ffmpeg whose end is always observed and whose stderr tail is kept. */
export interface FfmpegProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** Resolves with the exit code (or signal name) once the process has exited and its pipes closed. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last 2 KB of stderr. */
  stderrTail(): string;
  /** Kills the process (SIGKILL after a grace period) and waits for it to exit. Idempotent. */
  kill(): Promise<void>;
}

const STDERR_TAIL_BYTES = 2048;

/**
 * Spawns ffmpeg with `args`. stdin/stdout errors (EPIPE when ffmpeg exits early) are contained;
 * stderr is captured into a 2 KB tail for error messages.
 */
export function spawnFfmpeg(path: string, args: readonly string[]): FfmpegProcess {
  const child = spawn(path, args, { stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
  let tail = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    tail = (tail + s).slice(-STDERR_TAIL_BYTES);
  });
  // Pipe errors surface through the exit code and stderr; never let them become uncaught.
  child.stdin.on('error', () => {});
  child.stdout.on('error', () => {});
  let spawnError: Error | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', (err) => {
      spawnError = err;
      tail += `\n${err.message}`;
      // 'close' follows 'error' only when the process had started; cover the other case.
      if (child.pid === undefined) resolve({ code: null, signal: null });
    });
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  let killing: Promise<void> | undefined;
  return {
    child,
    exited,
    stderrTail: () => tail.trim(),
    kill() {
      if (killing) return killing;
      killing = (async () => {
        // Destroy our ends first: 'close' waits for every pipe, and a paused stdout would hold it.
        child.stdin.destroy();
        child.stdout.destroy();
        if (child.exitCode === null && child.signalCode === null && !spawnError) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
          timer.unref();
          await exited;
          clearTimeout(timer);
        }
        await exited;
      })();
      return killing;
    },
  };
}

/** Forgets every cached lookup (tests). */
export function clearFfmpegCache(): void {
  versionCache.clear();
  defaultResult = undefined;
}
