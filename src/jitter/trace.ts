/**
 * Seeded network traces for testing and benchmarking the jitter buffer: pure functions, no I/O.
 *
 * A trace is a sender's packets (send time, TOC duration, DTX or speech) plus what the network did
 * to each (arrival time or lost). Arrivals are FIFO like the gateway's WebSocket (a TCP stream),
 * except in the `reorder` scenario. Each synthetic packet is a valid-TOC Opus-shaped packet
 * (`0xf8`, CELT FB 20 ms mono, code 0) whose bytes 1..4 carry its index, so a consumer can tell
 * which packet it was handed.
 * @packageDocumentation
 */
import { seededRandom } from '../util/random.js';

export { seededRandom };

/** The impairment scenarios. */
export type TraceScenario = 'clean' | 'jitter' | 'loss' | 'burst' | 'reorder' | 'stall' | 'dtx' | 'restart';

/** All scenarios, in a stable order. */
export const TRACE_SCENARIOS: readonly TraceScenario[] = [
  'clean',
  'jitter',
  'loss',
  'burst',
  'reorder',
  'stall',
  'dtx',
  'restart',
];

/** One sent packet and its fate. */
export interface TracePacket {
  /** Send order. */
  index: number;
  /** The packet bytes (DTX packets are 1 byte). */
  packet: Uint8Array;
  /** Send time (ms) on the trace clock. */
  sendMs: number;
  /** Arrival time at the receiver, or undefined when lost. */
  arrivalMs: number | undefined;
  /** Packet duration from its TOC (ms). */
  durationMs: number;
  /** ≤ 2-byte DTX packet. */
  dtx: boolean;
  /** Send time minus the stream's start: position on the sender's media timeline (ms). */
  mediaMs: number;
}

/** A generated trace. */
export interface Trace {
  scenario: TraceScenario;
  seed: number;
  /** Every sent packet, in send order. */
  packets: TracePacket[];
  /** Received packets in arrival order (what `push` sees). */
  arrivals: TracePacket[];
  /** The smallest one-way delay of any received packet (ms): the zero of "added delay". */
  minNetworkDelayMs: number;
  /** Trace duration (ms). */
  durationMs: number;
}

/** Options of {@link generateTrace}. */
export interface TraceOptions {
  /** PRNG seed. Default 1. */
  seed?: number;
  /** Length of the trace (ms). Default 20 000. */
  durationMs?: number;
  /** Fixed part of the one-way delay (ms). Default 40. */
  baseDelayMs?: number;
}

/** The synthetic speech packet with index `i` (TOC 0xf8 + index + filler, 40 bytes). */
export function tracePacket(i: number): Uint8Array {
  const p = new Uint8Array(40);
  p[0] = 0xf8;
  new DataView(p.buffer).setUint32(1, i);
  for (let k = 5; k < p.length; k++) p[k] = (i * 31 + k) & 0xff;
  return p;
}

/** Reads the index back from a {@link tracePacket} (undefined for DTX and foreign packets). */
export function tracePacketIndex(packet: Uint8Array): number | undefined {
  if (packet.length !== 40 || (packet[0] !== 0xf8 && packet[0] !== 0xfc)) return undefined;
  return new DataView(packet.buffer, packet.byteOffset, packet.byteLength).getUint32(1);
}

const FRAME = 20;

/**
 * Generates the trace of one scenario, deterministically from `seed`:
 * - `clean`: 0–2 ms jitter.
 * - `jitter`: heavy-tailed jitter (mean ≈ 12 ms, occasional 60–100 ms), slowly varying.
 * - `loss`: 3 % independent loss, 0–3 ms jitter.
 * - `burst`: Gilbert–Elliott loss (bursts of 2–6 frames) plus 0–5 ms jitter.
 * - `reorder`: 5 % of packets overtaken by their successor, 0–5 ms jitter.
 * - `stall`: every 4 s the path stalls 300 ms, then delivers the backlog at once.
 * - `dtx`: talk spurts of 1–3 s and silences of 1–2 s carrying a 1-byte DTX packet every 400 ms.
 * - `restart`: the sender stops for 2 s mid-trace and restarts with a new stream (stereo TOC) on a
 *   path 30 ms longer.
 */
export function generateTrace(scenario: TraceScenario, options: TraceOptions = {}): Trace {
  const seed = options.seed ?? 1;
  const durationMs = options.durationMs ?? 20_000;
  const base = options.baseDelayMs ?? 40;
  const rnd = seededRandom(seed * 7919 + TRACE_SCENARIOS.indexOf(scenario));
  const packets: TracePacket[] = [];

  // Sender.
  let talking = true;
  let phaseEnd = 1000 + rnd() * 2000;
  let nextDtx = 0;
  const restartAt = Math.round(durationMs / 2 / FRAME) * FRAME;
  for (let t = 0; t < durationMs; t += FRAME) {
    if (scenario === 'dtx' && t >= phaseEnd) {
      talking = !talking;
      phaseEnd = t + (talking ? 1000 + rnd() * 2000 : 1000 + rnd() * 1000);
      nextDtx = t;
    }
    if (scenario === 'restart' && t >= restartAt && t < restartAt + 2000) continue;
    let packet: Uint8Array;
    let dtx = false;
    if (!talking) {
      if (t < nextDtx) continue;
      nextDtx = t + 400;
      packet = Uint8Array.of(0xf8);
      dtx = true;
    } else {
      packet = tracePacket(packets.length);
      if (scenario === 'restart' && t >= restartAt) packet[0] = 0xfc; // the restarted sender is stereo
    }
    packets.push({
      index: packets.length,
      packet,
      sendMs: t,
      arrivalMs: undefined,
      durationMs: FRAME,
      dtx,
      mediaMs: t,
    });
  }

  // Network.
  let geBad = false;
  let slow = 0;
  let prevArrival = Number.NEGATIVE_INFINITY;
  for (const p of packets) {
    let delay = base;
    let lost = false;
    switch (scenario) {
      case 'clean':
        delay += rnd() * 2;
        break;
      case 'jitter': {
        slow = slow * 0.95 + rnd() * 0.05 * 20; // slowly varying component, 0..20
        const spike = rnd() < 0.02 ? 60 + rnd() * 40 : 0;
        delay += slow + -Math.log(1 - rnd()) * 6 + spike;
        break;
      }
      case 'loss':
        delay += rnd() * 3;
        lost = rnd() < 0.03;
        break;
      case 'burst':
        geBad = geBad ? rnd() < 0.6 : rnd() < 0.015;
        lost = geBad;
        delay += rnd() * 5;
        break;
      case 'reorder':
        delay += rnd() * 5;
        if (rnd() < 0.05) delay += FRAME + 1 + rnd() * 8; // overtaken by the next packet
        break;
      case 'stall': {
        delay += rnd() * 3;
        const cycle = p.sendMs % 4000;
        if (p.sendMs >= 4000 && cycle < 300) delay += 300 - cycle; // held until the stall ends
        break;
      }
      case 'dtx':
        delay += rnd() * 8;
        break;
      case 'restart':
        delay += rnd() * 4 + (p.sendMs >= restartAt ? 30 : 0);
        break;
    }
    if (lost) continue;
    let arrival = p.sendMs + delay;
    // FIFO delivery on the WebSocket, except where reordering is the point.
    if (scenario !== 'reorder') arrival = Math.max(arrival, prevArrival);
    prevArrival = Math.max(prevArrival, arrival);
    p.arrivalMs = arrival;
  }
  const arrivals = packets
    .filter((p) => p.arrivalMs !== undefined)
    .sort((a, b) => a.arrivalMs! - b.arrivalMs! || a.index - b.index);
  let minDelay = Number.POSITIVE_INFINITY;
  for (const p of arrivals) minDelay = Math.min(minDelay, p.arrivalMs! - p.sendMs);
  return { scenario, seed, packets, arrivals, minNetworkDelayMs: minDelay, durationMs };
}

/** Result of {@link runTrace}: what the buffer did with every slot. */
export interface TraceRun {
  /**
   * Played packets: trace index (or -1 for DTX), slot time on the buffer's playout timeline, and
   * the tick at which `pop` handed the packet out (the earliest a consumer on that tick can play it).
   */
  played: Array<{ index: number; atMs: number; handedOutMs: number; dtx: boolean }>;
  /** Concealed slots. */
  concealed: Array<{ atMs: number; durationMs: number; fec: boolean; fadeOut: boolean }>;
  /** Silence slots. */
  silenceMs: number;
  /** Longest run of consecutive concealed slots (ms). */
  maxConcealRunMs: number;
}

/**
 * Minimal shape of a jitter buffer for {@link runTrace} (the adaptive one, or a baseline).
 */
export interface TraceBufferLike {
  push(packet: Uint8Array, arrivalMs: number): unknown;
  pop(nowMs: number):
    | {
        kind: 'packet';
        packet: Uint8Array;
        atMs: number;
        dtx: boolean;
        stretch?: { mode: 'accelerate' | 'expand'; maxSamples: number; minSamples: number };
      }
    | { kind: 'conceal'; atMs: number; durationMs: number; fec?: Uint8Array; fadeOut: boolean }
    | { kind: 'silence'; durationMs: number }
    | { kind: 'none' };
  /** Time-stretch report (see `AdaptiveJitterBuffer.stretched`). */
  stretched?(deltaSamples: number): void;
}

/** Options of {@link runTrace}. */
export interface TraceRunOptions {
  /** Playout tick (ms). Default 20. */
  tickMs?: number;
  /** Phase of the first tick (ms). Default 7. */
  tickPhaseMs?: number;
  /**
   * Pitch period (48 kHz samples) of the simulated speech a time-stretch request works on:
   * the simulated stretcher removes or repeats the most whole periods that fit the request, or
   * the request's maximum when not even one does (as `accelerate`/`expand` do for unvoiced
   * frames). Default 240 (a 200 Hz voice).
   */
  pitchSamples?: number;
}

/**
 * Drives `buffer` over `trace` with a playout tick of `tickMs` (default 20, starting at
 * `tickPhaseMs`), pushing each arrival at its time: a fake clock, no timers. Time-stretch
 * requests are answered by a simulated stretcher (see {@link TraceRunOptions.pitchSamples}).
 */
export function runTrace(
  buffer: TraceBufferLike,
  trace: Trace,
  tickOrOptions: number | TraceRunOptions = 20,
  tickPhase = 7,
): TraceRun {
  const opts: TraceRunOptions =
    typeof tickOrOptions === 'number' ? { tickMs: tickOrOptions, tickPhaseMs: tickPhase } : tickOrOptions;
  const tickMs = opts.tickMs ?? 20;
  const tickPhaseMs = opts.tickPhaseMs ?? 7;
  const pitch = opts.pitchSamples ?? 240;
  const run: TraceRun = { played: [], concealed: [], silenceMs: 0, maxConcealRunMs: 0 };
  let next = 0;
  const end = trace.durationMs + trace.minNetworkDelayMs + 1500;
  let run0 = 0;
  for (let now = tickPhaseMs; now <= end; now += tickMs) {
    while (next < trace.arrivals.length && trace.arrivals[next]!.arrivalMs! <= now) {
      const p = trace.arrivals[next++]!;
      buffer.push(p.packet, p.arrivalMs!);
    }
    for (;;) {
      const out = buffer.pop(now);
      if (out.kind === 'none') break;
      if (out.kind === 'packet') {
        run.played.push({
          index: out.dtx ? -1 : (tracePacketIndex(out.packet) ?? -1),
          atMs: out.atMs,
          handedOutMs: now,
          dtx: out.dtx,
        });
        run0 = 0;
        const st = out.stretch;
        if (st && buffer.stretched) {
          const periods = Math.floor(st.maxSamples / pitch);
          const n = periods >= 1 ? periods * pitch : st.maxSamples;
          buffer.stretched(st.mode === 'accelerate' ? -n : n);
        }
      } else if (out.kind === 'conceal') {
        run.concealed.push({ atMs: out.atMs, durationMs: out.durationMs, fec: !!out.fec, fadeOut: out.fadeOut });
        run0 += out.durationMs;
        run.maxConcealRunMs = Math.max(run.maxConcealRunMs, run0);
      } else {
        run.silenceMs += out.durationMs;
        run0 = 0;
      }
    }
  }
  return run;
}

/**
 * Late-loss rate of a fixed playout delay `delayMs` on `trace` with perfect timing knowledge:
 * the fraction of received speech packets arriving after `send + minNetworkDelay + delayMs`.
 */
export function fixedDelayLateRate(trace: Trace, delayMs: number): number {
  let late = 0;
  let n = 0;
  for (const p of trace.arrivals) {
    if (p.dtx) continue;
    n++;
    if (p.arrivalMs! - p.sendMs - trace.minNetworkDelayMs > delayMs + 1e-9) late++;
  }
  return n ? late / n : 0;
}

/**
 * The oracle: the smallest fixed delay (ms, 1 ms resolution) whose late-loss rate on `trace` is at
 * most `lateRate`.
 */
export function oracleDelay(trace: Trace, lateRate: number): number {
  const rel = trace.arrivals.filter((p) => !p.dtx).map((p) => p.arrivalMs! - p.sendMs - trace.minNetworkDelayMs);
  rel.sort((a, b) => a - b);
  if (rel.length === 0) return 0;
  const allowedLate = Math.floor(lateRate * rel.length + 1e-9);
  const idx = Math.max(0, rel.length - 1 - allowedLate);
  return Math.max(0, Math.ceil(rel[idx]! - 1e-9));
}
