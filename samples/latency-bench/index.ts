/**
 * Sample: mouth-to-ear latency through the audio gateway.
 *
 * ```
 *  mouth: live source (frame i ready at t0 + (i+1)·20 ms; a chirp every 500 ms) ─► OpusEncoder
 *     ─► VoiceConnection (/audio/connect, bot identity A) ─► gateway ─► /audio/subscribe
 *     (identity B, target_identity = A) ─► VoiceReceiver (jitter buffer, decode, 20 ms PCM frames)
 *     ─► ear: received PCM ─► cross-correlation with the chirp ─► ear time of each mark
 *  latency = ear − mouth  (both on this process's performance.now())
 * ```
 * It "subscribes to itself" with a second bot identity: the gateway keeps one session per
 * identity per room (a second one kicks the first, docs/platform.md §A6) and never routes a
 * participant's own track back to it, so identity A cannot hear A. Against the emulator the
 * second identity is created on the fly; on the real platform put its token in
 * `ARGON_EXTRA_TOKENS`.
 *
 * ```sh
 * node --import tsx samples/latency-bench/index.ts [--json]     # or, after npm run build:
 * node dist/samples/latency-bench/index.js [--json]
 * ```
 * @packageDocumentation
 */
import { OpusEncoder } from '../../src/codec/opus-encoder.js';
import { InvalidInputError } from '../../src/errors.js';
import type { JitterMetrics } from '../../src/jitter/index.js';
import { sleep } from '../../src/util/abort.js';
import { type Clock, systemClock } from '../../src/util/clock.js';
import { VoiceConnection } from '../../src/voice/connection.js';
import { type ReceivedPcmFrame, VoiceReceiver } from '../../src/voice/receiver.js';
import { VoiceSubscriber } from '../../src/voice/subscriber.js';
import { isMain, runCli } from '../shared/cli.js';
import { connectPlatform, type SampleOptions } from '../shared/platform.js';
import { waitUntil } from '../shared/wait.js';
import { chirp, findMarks, type MarkResult, matchMarks, percentile, type TimedPcm } from './marks.js';

export { chirp, findMarks, type MarkPeak, type MarkResult, matchMarks, percentile, type TimedPcm } from './marks.js';

/** Options of {@link run}. */
export interface LatencyBenchOptions extends SampleOptions {
  /** Length of the marked signal after the lead-in, ms (default 5000: 10 marks at 500 ms). */
  durationMs?: number;
  /** Time between marks, ms (default 500; latencies must stay below it). */
  intervalMs?: number;
  /** Silence before the first mark, ms (default 1000): the listener's jitter buffer sees traffic first. */
  leadInMs?: number;
  /** Starting delay of the listener's jitter buffer, ms (default 20; it grows on late arrivals). */
  initialJitterMs?: number;
  /** Correlation score a peak needs to count as a mark (default 0.5). */
  threshold?: number;
  /**
   * Time source of the whole measurement: the mouth's frame timing, the publisher's pacer, the
   * listener (arrival times, jitter buffer, playout) and the waits between the phases. Default
   * {@link systemClock}: real latency. Tests pass the `ManualClock` of the emulator they hand in
   * and step it, so that the measurement is the same on every run however busy the machine is.
   */
  clock?: Clock;
}

/** Latency statistics in ms. */
export interface LatencyStats {
  p50Ms: number;
  p99Ms: number;
  minMs: number;
  maxMs: number;
}

/** Result of {@link run}. */
export interface LatencyBenchResult extends LatencyStats {
  mode: 'emulator' | 'platform';
  /** Marks sent. */
  sent: number;
  /** Marks detected in the received audio. */
  detected: number;
  /** Every mark, with its latency when detected. */
  marks: MarkResult[];
  /** Emulator only: mouth → gateway arrival (framing, pacing and the socket), per mark. */
  toGateway?: LatencyStats;
  /** The listener's jitter buffer at the end (drops, concealment, delay). */
  jitter: JitterMetrics;
  /** Identities used (publisher, listener). */
  identities: { publisher: string; listener: string };
}

/** A `waitUntil` check that wakes every `ms` on `clock` (a `setInterval` on any {@link Clock}). */
function wakeEvery(clock: Clock, ms: number): (wake: () => void) => () => void {
  return (wake) => {
    let timer: unknown;
    const arm = (): void => {
      timer = clock.setTimeout(() => {
        arm();
        wake();
      }, ms);
    };
    arm();
    return () => clock.clearTimeout(timer);
  };
}

function stats(values: number[]): LatencyStats {
  return {
    p50Ms: percentile(values, 50),
    p99Ms: percentile(values, 99),
    minMs: values.length ? Math.min(...values) : Number.NaN,
    maxMs: values.length ? Math.max(...values) : Number.NaN,
  };
}

/**
 * Publishes the marked signal, listens to it through the gateway with a second identity, and
 * reports the mouth-to-ear latency of every mark.
 * @throws InvalidInputError for bad options or a missing second identity; TimeoutError when the
 *   gateway never delivers the audio; what connecting throws.
 */
export async function run(options: LatencyBenchOptions = {}): Promise<LatencyBenchResult> {
  const log = options.log ?? (() => {});
  const signal = options.signal;
  const durationMs = options.durationMs ?? 5000;
  const intervalMs = options.intervalMs ?? 500;
  if (!(intervalMs >= 100) || intervalMs % 20 !== 0)
    throw new InvalidInputError('intervalMs must be a multiple of 20, at least 100');
  if (!(durationMs >= intervalMs * 2)) throw new InvalidInputError('durationMs must cover at least two intervals');
  const clock = options.clock ?? systemClock;
  const platform = await connectPlatform({ ...options, intents: 0 });
  const where = { spaceId: platform.spaceId, channelId: platform.voiceChannelId };
  const publisher = platform.bot.me.userId;
  let connection: VoiceConnection | undefined;
  let receiver: VoiceReceiver | undefined;
  let subscriber: VoiceSubscriber | undefined;
  const encoder = new OpusEncoder({ channels: 1, frameDurationMs: 20 });
  try {
    const ear = await platform.extraIdentity('latency-ear');
    log(`publisher ${publisher}, listener ${ear.userId} (a second identity: one identity cannot hear itself)`);
    // Listen first: the subscriber waits for the publisher's track.
    subscriber = new VoiceSubscriber({
      rest: ear.rest,
      ...where,
      userId: publisher,
      gatewayUrl: platform.audioUrl,
      clock,
    });
    subscriber.on('error', (e) => log(`subscriber: ${e.message}`));
    receiver = new VoiceReceiver({ clock });
    // The listener's jitter buffer starts low and grows on late arrivals, and never drops a
    // received frame to shrink its delay (the bench's "silence" is not DTX, so the default
    // buffer would drop frames of it, and sometimes a mark). Nor does it time-stretch: a mark
    // shortened or lengthened by a pitch period would match its template less well, and the
    // measured latency would include the stretch.
    const stream = receiver.attach(publisher, subscriber, {
      mode: 'pcm',
      channels: 1,
      jitter: { initialDelayMs: options.initialJitterMs ?? 20, dropSpeechFrames: false, timeStretch: false },
    });
    const received: TimedPcm[] = [];
    const reading = (async () => {
      for await (const f of stream)
        received.push({ pcm: (f as ReceivedPcmFrame).pcm, atMs: (f as ReceivedPcmFrame).atMs });
    })();
    // A clock other than the system clock also drives the connection's pacer (main-thread mode).
    connection = new VoiceConnection({ rest: platform.bot.rest, ...where, pacer: platform.pacer, clock });
    connection.on('error', () => undefined);
    await connection.ready({ signal, timeoutMs: 30_000 });
    await subscriber.waitFor('subscribed', { signal, timeoutMs: 30_000 });
    // Start once the connection's silence pre-roll (sent first after ready, §A4.2) has reached the
    // ear and nothing is queued: frames queued behind it would measure the pre-roll, not the path.
    const sub = subscriber;
    const conn = connection;
    await waitUntil(
      wakeEvery(clock, 10),
      () => sub.framesReceived >= 10 && conn.queuedFrames === 0,
      'the pre-roll to reach the listener',
      { signal, timeoutMs: 30_000 },
    );
    log(`connected; sending a chirp every ${intervalMs} ms for ${durationMs} ms`);

    // The mouth: a live source. Frame i holds audio captured in [t0 + 20i, t0 + 20(i+1)) and is
    // ready at the end of that window; a mark's mouth time is its first sample's capture time.
    const mark = chirp();
    const leadIn = Math.round((options.leadInMs ?? 1000) / 20);
    const frames = leadIn + Math.round(durationMs / 20);
    const every = intervalMs / 20;
    const mouth: number[] = [];
    const markPackets: Uint8Array[] = [];
    const t0 = clock.now();
    for (let i = 0; i < frames; i++) {
      const wait = t0 + (i + 1) * 20 - clock.now();
      if (wait > 0) await sleep(wait, { signal, clock });
      const pcm = new Int16Array(960);
      const isMark = i >= leadIn && (i - leadIn) % every === 0;
      if (isMark) {
        pcm.set(mark);
        mouth.push(t0 + i * 20);
      }
      const packet = encoder.encode(pcm);
      if (isMark) markPackets.push(packet);
      await connection.sendFrame(packet, { signal });
    }
    // Keep listening until the ear's timeline is one interval past the last mark.
    const lastMouth = mouth[mouth.length - 1] ?? t0;
    await waitUntil(
      wakeEvery(clock, 20),
      () => (received[received.length - 1]?.atMs ?? 0) >= lastMouth + intervalMs,
      'the last mark to be heard',
      { signal, timeoutMs: 30_000 },
    );
    const jitter = { ...stream.metrics };
    await stream.close();
    await reading;

    const peaks = findMarks(received, mark, { threshold: options.threshold ?? 0.5, minSpacingMs: intervalMs / 2 });
    const marks = matchMarks(mouth, peaks);
    const latencies = marks.flatMap((m) => (m.latencyMs === undefined ? [] : [m.latencyMs]));
    const result: LatencyBenchResult = {
      mode: platform.mode,
      sent: mouth.length,
      detected: latencies.length,
      marks,
      ...stats(latencies),
      jitter,
      identities: { publisher, listener: ear.userId },
    };
    if (platform.emulator) {
      // Where the time goes: when each mark frame reached the gateway (same clock, same process).
      const published = platform.emulator.gateway.published({ identity: publisher });
      const toGateway: number[] = [];
      mouth.forEach((m, k) => {
        const pkt = markPackets[k]!;
        const hit = published.find(
          (f) => f.arrivalMs >= m && f.data.length === pkt.length && f.data.every((b, j) => b === pkt[j]),
        );
        if (hit) toGateway.push(hit.arrivalMs - m);
      });
      result.toGateway = stats(toGateway);
    }
    log(
      `marks: ${result.detected}/${result.sent} detected; mouth-to-ear p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms`,
    );
    return result;
  } finally {
    encoder.close();
    await receiver?.close();
    await subscriber?.close();
    await connection?.close();
    await platform.close();
  }
}

if (isMain(import.meta.url)) {
  const json = process.argv.includes('--json');
  void runCli(
    'latency-bench',
    ({ signal, log }) => run({ signal, log: json ? () => {} : log }),
    (r) => {
      if (json) return [JSON.stringify(r, null, 2)];
      const f = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '   –  ' : v.toFixed(1).padStart(6));
      return [
        'mark   mouth→ear ms   score',
        ...r.marks.map(
          (m) =>
            `${String(m.index).padStart(4)}   ${f(m.latencyMs)}         ${m.score === undefined ? '–' : m.score.toFixed(2)}`,
        ),
        `detected ${r.detected}/${r.sent}   p50 ${f(r.p50Ms)} ms   p99 ${f(r.p99Ms)} ms   min ${f(r.minMs)}   max ${f(r.maxMs)}`,
        ...(r.toGateway
          ? [`mouth→gateway (emulator capture): p50 ${f(r.toGateway.p50Ms)} ms   p99 ${f(r.toGateway.p99Ms)} ms`]
          : []),
      ];
    },
  );
}
