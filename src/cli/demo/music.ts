/**
 * The demo's music: a short stereo piece synthesised by ffmpeg from `lavfi` sources and encoded
 * to Ogg Opus with 20 ms frames, so the music bot plays it by passthrough (no re-encoding).
 *
 * ```
 *  aevalsrc (L: pad chord + bass, R: pad chord + arpeggio) ─► libopus 96k, 20 ms ─► demo-music.ogg
 *  chords, 2 s each:  C ─ Am ─ F ─ G ─ C ─ …   (a plucked envelope every half second)
 * ```
 * Only the ffmpeg that {@link resolveFfmpeg} finds is used (the npm one on a fresh machine);
 * nothing is downloaded.
 * @packageDocumentation
 */
import { stat } from 'node:fs/promises';
import { AbortError, DependencyError, InvalidInputError, IoError } from '../../errors.js';
import { type ResolvedFfmpeg, resolveFfmpeg, spawnFfmpeg } from '../../voice/sources/ffmpeg.js';

/** Options of {@link generateDemoMusic}. */
export interface DemoMusicOptions {
  /** Output file (`.ogg`). */
  path: string;
  /** Length in seconds (1–600). */
  durationS: number;
  /** Kills ffmpeg and rejects with {@link AbortError}. */
  signal?: AbortSignal | undefined;
}

/** What {@link generateDemoMusic} wrote. */
export interface DemoMusic {
  path: string;
  durationS: number;
  bytes: number;
  /** The ffmpeg that made it. */
  ffmpeg: ResolvedFfmpeg;
}

// Per-expression state: ld(0) chord index, ld(1) root Hz, ld(2) third ratio (minor for Am), ld(3) pluck envelope.
const CHORD =
  'st(0,floor(mod(t/2,4)));' +
  'st(1,if(eq(ld(0),0),261.63,if(eq(ld(0),1),220,if(eq(ld(0),2),174.61,196))));' +
  'st(2,if(eq(ld(0),1),1.1892,1.2599));' +
  'st(3,exp(-2.2*mod(t,0.5)));';
const PAD = '0.07*ld(3)*(sin(2*PI*ld(1)*t)+sin(2*PI*ld(1)*ld(2)*t)+sin(2*PI*ld(1)*1.4983*t))';
// Bass: the root an octave down, on the beat.
const BASS = '0.16*exp(-3*mod(t,1))*sin(2*PI*ld(1)/2*t)';
// Arpeggio: root, third, fifth, octave in eighth notes (0.25 s).
const ARP =
  '0.09*exp(-8*mod(t,0.25))*sin(2*PI*ld(1)*' +
  'if(eq(mod(floor(t*4),4),0),2,if(eq(mod(floor(t*4),4),1),2*ld(2),if(eq(mod(floor(t*4),4),2),2*1.4983,4)))*t)';

/** The `lavfi` graph of the piece (one expression per channel; quoted so commas stay inside). */
export function demoMusicGraph(durationS: number): string {
  const left = `${CHORD}${PAD}+${BASS}`;
  const right = `${CHORD}${PAD}+${ARP}`;
  return `aevalsrc='${left}|${right}':s=48000:d=${durationS}`;
}

/**
 * Writes the demo's stereo Ogg Opus piece to `options.path`.
 * @throws InvalidInputError for a length outside 1–600 s.
 * @throws DependencyError when no working ffmpeg is found or ffmpeg fails.
 * @throws AbortError when `signal` aborts first.
 * @throws IoError when the file was not written.
 */
export async function generateDemoMusic(options: DemoMusicOptions): Promise<DemoMusic> {
  const durationS = Math.round(options.durationS * 1000) / 1000;
  if (!(durationS >= 1 && durationS <= 600)) {
    throw new InvalidInputError(`demo music length must be 1–600 s, got ${options.durationS}`);
  }
  const ffmpeg = await resolveFfmpeg();
  if (options.signal?.aborted) throw new AbortError('music generation aborted');
  const args = [
    '-hide_banner',
    '-nostdin',
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    demoMusicGraph(durationS),
    '-c:a',
    'libopus',
    '-b:a',
    '96k',
    '-frame_duration',
    '20',
    '-application',
    'audio',
    '-metadata',
    'title=argon-voice demo',
    options.path,
  ];
  const proc = spawnFfmpeg(ffmpeg.path, args);
  const onAbort = () => void proc.kill();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let result: { code: number | null; signal: NodeJS.Signals | null };
  try {
    result = await proc.exited;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  if (options.signal?.aborted) throw new AbortError('music generation aborted');
  if (result.code !== 0) {
    throw new DependencyError(
      `ffmpeg (${ffmpeg.origin}) could not make the demo music: exit ${result.code ?? result.signal}: ${proc.stderrTail()}`,
    );
  }
  const st = await stat(options.path).catch((err: unknown) => {
    throw new IoError(`ffmpeg exited 0 but ${options.path} is missing`, { cause: err, path: options.path });
  });
  return { path: options.path, durationS, bytes: st.size, ffmpeg };
}
