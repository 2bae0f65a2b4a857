/**
 * Live capture from the default (or a named) input device through `node-record-lpcm16`, which
 * runs `sox`/`rec` or `arecord` as a child process.
 * @packageDocumentation
 */
import { constants as fsConstants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { Readable } from 'node:stream';
import { DependencyError, InvalidInputError } from '../../errors.js';
import { pcmSource } from './pcm-source.js';
import type { AudioSource, SourceOptions } from './types.js';

/** Options of {@link microphoneSource}. */
export interface MicrophoneSourceOptions extends Omit<SourceOptions, 'format' | 'seekMs' | 'channels'> {
  /** What to yield (default `'opus'`). */
  output?: 'opus' | 'pcm';
  /** Capture channels (default 1). */
  channels?: 1 | 2;
  /** Capture rate (default 48000, so no resampling is needed). */
  sampleRate?: number;
  /** Capture program (default: the first of sox, rec, arecord found on PATH). */
  recorder?: 'sox' | 'rec' | 'arecord';
  /** Device name (sox: AUDIODEV, arecord: -D). */
  device?: string;
  /** Environment whose PATH is searched (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

interface Recording {
  process: import('node:child_process').ChildProcess;
  stream(): Readable;
  stop(): void;
}

async function findOnPath(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const p = join(dir, name);
    try {
      await access(p, fsConstants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Opus (or PCM) frames captured live from a microphone.
 *
 * @remarks
 * The recorder binary is looked up before anything is spawned, because `node-record-lpcm16`
 * emits an unhandled `error` for a missing binary. Closing the source kills the recorder.
 * Buffering is that of {@link pcmSource}; when the consumer falls behind by `maxBufferedFrames`,
 * the recorder's pipe fills and the OS drops audio at the device (live input cannot wait).
 * @throws {@link DependencyError} when neither sox/rec nor arecord is on PATH, or
 *   `node-record-lpcm16` is not installed.
 */
export async function microphoneSource(options: MicrophoneSourceOptions = {}): Promise<AudioSource> {
  const env = options.env ?? process.env;
  const channels = options.channels ?? 1;
  if (channels !== 1 && channels !== 2) throw new InvalidInputError(`channels must be 1 or 2, got ${String(channels)}`);
  const sampleRate = options.sampleRate ?? 48000;
  const candidates = options.recorder ? [options.recorder] : (['sox', 'rec', 'arecord'] as const);
  let recorder: string | undefined;
  for (const c of candidates) {
    if (await findOnPath(c, env)) {
      recorder = c;
      break;
    }
  }
  if (!recorder) {
    throw new DependencyError(
      `microphoneSource needs ${candidates.join(' or ')} on PATH to capture audio and found none. ` +
        'Install SoX (apt install sox / brew install sox) or alsa-utils (arecord).',
    );
  }
  let mod: { record(options: Record<string, unknown>): Recording };
  try {
    const imported = (await import('node-record-lpcm16' as string)) as { default?: unknown; record?: unknown };
    mod = (imported.record ? imported : imported.default) as typeof mod;
    if (typeof mod?.record !== 'function') throw new Error('the module has no record() export');
  } catch (err) {
    throw new DependencyError(
      `microphoneSource needs the optional package node-record-lpcm16: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const recording = mod.record({
    sampleRate,
    channels,
    recorder,
    audioType: 'raw',
    ...(options.device ? { device: options.device } : {}),
  });
  const child = recording.process;
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once('close', () => resolve());
    child.once('error', () => resolve());
  });
  const stream = recording.stream();
  // The library emits its exit-code complaint as a stream 'error'; the iterator reports real
  // failures, so never let one become an uncaught exception after close.
  stream.on('error', () => {});
  return pcmSource(stream, {
    ...options,
    sampleRate,
    channels,
    format: 's16le',
    output: options.output ?? 'opus',
    kind: 'microphone',
    onClose: async () => {
      if (child.exitCode === null && child.signalCode === null) recording.stop();
      await exited;
    },
  });
}
