/**
 * The demo's results: one JSON document ({@link DemoResult}) and the HTML page built from it with
 * {@link renderReport} (send-spacing histogram at the emulator, jitter-buffer delay over time,
 * final metrics and {@link codecInfo}). Pure: data in, data out.
 * @packageDocumentation
 */
import { cpus, totalmem } from 'node:os';
import type { CodecInfo } from '../../codec/codec-info.js';
import { summarize } from '../../util/stats.js';
import type { ReportChart, ReportData, ReportSection, ReportTable } from '../report.js';

/** One point of the jitter-buffer timeline. */
export interface DemoTimelinePoint {
  /** Seconds since the run started. */
  tS: number;
  /** Live (low-latency) buffer of the simulated user. */
  currentDelayMs: number;
  targetDelayMs: number;
  bufferedMs: number;
  /** The recorder's buffer of the same user (delay floor 100 ms). */
  recordingDelayMs?: number | undefined;
  recordingBufferedMs?: number | undefined;
}

/** Spacing summary in ms (NaN → null in JSON). */
export interface SpacingSummary {
  count: number;
  min: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** One bin of a histogram: `[fromMs, fromMs + widthMs)`; the last bin also holds everything above. */
export interface HistogramBin {
  fromMs: number;
  widthMs: number;
  count: number;
}

/** Everything the demo measured; written as `demo-report.json`. */
export interface DemoResult {
  startedAt: string;
  finishedAt: string;
  command: string;
  seed: number;
  requestedSeconds: number;
  ranSeconds: number;
  /** Stopped early by Ctrl-C (io.signal). */
  aborted: boolean;
  emulator: { apiUrl: string; audioUrl: string; spaceId: string; voiceChannelId: string };
  /** Who is in the room and how the bot identities are split (docs/platform.md §A6). */
  topology: {
    musicBotUserId: string;
    speakerUserId: string;
    recorderBotUserIds: string[];
    note: string;
  };
  music: { path: string; durationS: number; bytes: number; ffmpeg: string; framesQueued: number };
  /** The music bot's pacer at the end. */
  musicBot: {
    framesSent: number;
    framesLate: number;
    framesSkipped: number;
    underruns: number;
    /** Runs of silence inside the music (between two of its frames): what a listener hears as a stutter. */
    dropouts: number;
    /** Audio time those dropouts inserted. */
    droppedMs: number;
    fillerFrames: number;
    networkDrops: number;
    spacingP50Ms: number;
    spacingP99Ms: number;
    spacingMaxMs: number;
    latenessP99Ms: number;
    pacerMode: string;
    pacerClock: string;
    realtime: boolean;
  };
  /** The music bot's frames as the emulator's gateway received them. */
  emulatorReceive: {
    frames: number;
    spacing: SpacingSummary;
    histogram: HistogramBin[];
    /** Gaps of 1.5 frames or more: when (s after the first frame) and how long (ms); at most 50. */
    longGaps: Array<{ atS: number; gapMs: number }>;
  };
  speaker: {
    framesSent: number;
    speechFrames: number;
    impairment: unknown;
    impairmentStats: Record<string, number>;
  };
  /** Final jitter-buffer figures of the simulated user: live buffer and the recorder's. */
  jitter: { live: Record<string, number>; recording: Record<string, number> };
  timeline: DemoTimelinePoint[];
  recording: {
    durationMs: number;
    tracks: Array<{
      userId: string;
      role: string;
      path: string;
      seconds: number;
      packets: number;
      fillPackets: number;
      error?: string;
    }>;
    mixPath?: string | undefined;
    mixError?: string | undefined;
  };
  codec: CodecInfo;
  files: { music: string; recordings: string[]; mix?: string | undefined; html: string; json: string };
}

/** Spacing between consecutive arrival times (ms), per sending session. */
export function spacings(arrivals: ReadonlyArray<{ arrivalMs: number; sessionId: string }>): number[] {
  const out: number[] = [];
  for (let i = 1; i < arrivals.length; i++) {
    const a = arrivals[i - 1]!;
    const b = arrivals[i]!;
    if (a.sessionId === b.sessionId) out.push(b.arrivalMs - a.arrivalMs);
  }
  return out;
}

/** Gaps of at least `minMs` between consecutive arrivals of one session, in order (at most `max`). */
export function longGaps(
  arrivals: ReadonlyArray<{ arrivalMs: number; sessionId: string }>,
  minMs: number,
  max = 50,
): Array<{ atS: number; gapMs: number }> {
  const out: Array<{ atS: number; gapMs: number }> = [];
  const t0 = arrivals[0]?.arrivalMs ?? 0;
  for (let i = 1; i < arrivals.length && out.length < max; i++) {
    const a = arrivals[i - 1]!;
    const b = arrivals[i]!;
    const gap = b.arrivalMs - a.arrivalMs;
    if (a.sessionId === b.sessionId && gap >= minMs) {
      out.push({ atS: Math.round(b.arrivalMs - t0) / 1000, gapMs: Math.round(gap * 100) / 100 });
    }
  }
  return out;
}

/** Summary of `values` (ms). */
export function spacingSummary(values: readonly number[]): SpacingSummary {
  const s = summarize(values);
  return { count: s.count, min: s.min, p50: s.p50, p99: s.p99, max: s.max, mean: s.mean };
}

/**
 * Fixed-width histogram of `values` from 0 to `maxMs`; values at or above `maxMs` go into the
 * last bin (so an outlier never stretches the chart), negative ones into the first.
 */
export function histogram(values: readonly number[], widthMs = 1, maxMs = 45): HistogramBin[] {
  const n = Math.ceil(maxMs / widthMs);
  const bins: HistogramBin[] = Array.from({ length: n }, (_, i) => ({ fromMs: i * widthMs, widthMs, count: 0 }));
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    const i = Math.min(n - 1, Math.max(0, Math.floor(v / widthMs)));
    bins[i]!.count++;
  }
  return bins;
}

function fixed(v: number | undefined, d = 2): number | null {
  return v === undefined || !Number.isFinite(v) ? null : Math.round(v * 10 ** d) / 10 ** d;
}

/** The HTML page's data for {@link renderReport}. */
export function buildDemoReport(r: DemoResult): ReportData {
  const bins = r.emulatorReceive.histogram;
  const spacingChart: ReportChart = {
    kind: 'bar',
    title: 'Music bot: send spacing at the emulator (frames per 1 ms bin, log scale)',
    xLabel: 'ms between consecutive frames (last bin: that much or more)',
    yLabel: 'frames',
    logY: true,
    categories: bins.map((b, i) => (i % 5 === 0 ? String(b.fromMs) : '')),
    series: [{ name: 'arrival spacing', points: bins.map((b, i) => [i, b.count] as [number, number]) }],
  };
  // Negative current-delay readings (seen after DTX pauses and stalls) are left out of the chart so
  // they do not flatten it; they stay in the JSON timeline.
  const delayChart: ReportChart = {
    kind: 'line',
    title: 'Simulated user: jitter-buffer delay over time (live buffer)',
    xLabel: 's since start',
    yLabel: 'ms',
    series: [
      {
        name: 'current delay',
        points: r.timeline
          .filter((p) => p.currentDelayMs >= 0)
          .map((p) => [p.tS, p.currentDelayMs] as [number, number]),
      },
      { name: 'target delay', points: r.timeline.map((p) => [p.tS, p.targetDelayMs] as [number, number]) },
      { name: 'media buffered', points: r.timeline.map((p) => [p.tS, p.bufferedMs] as [number, number]) },
    ],
  };
  const m = r.musicBot;
  const s = r.emulatorReceive.spacing;
  const pacerTable: ReportTable = {
    title: 'Music bot (publish: pacer thread → /audio/connect)',
    columns: ['metric', 'value'],
    rows: [
      ['frames sent', m.framesSent],
      ['late frames', m.framesLate],
      ['skipped frames', m.framesSkipped],
      ['underruns', m.underruns],
      ['dropouts inside the music / inserted silence (ms)', `${m.dropouts} / ${fixed(m.droppedMs)}`],
      ['filler (silence) frames', m.fillerFrames],
      [
        'send spacing p50 / p99 / max at the pacer (ms)',
        `${fixed(m.spacingP50Ms)} / ${fixed(m.spacingP99Ms)} / ${fixed(m.spacingMaxMs)}`,
      ],
      ['arrival spacing p50 / p99 / max at the emulator (ms)', `${fixed(s.p50)} / ${fixed(s.p99)} / ${fixed(s.max)}`],
      ['frames received by the emulator', r.emulatorReceive.frames],
      ['lateness p99 (ms)', fixed(m.latenessP99Ms)],
      ['pacer', `${m.pacerMode} thread, ${m.pacerClock} clock${m.realtime ? ', real-time priority' : ''}`],
    ],
  };
  const jl = r.jitter.live;
  const jr = r.jitter.recording;
  const jitterKeys = [
    'currentDelayMs',
    'targetDelayMs',
    'packetsReceived',
    'packetsPlayed',
    'lateLosses',
    'lateDiscards',
    'inferredLosses',
    'concealedMs',
    'fecRecoveries',
    'underruns',
    'droppedFrames',
    'silenceMs',
  ];
  const jitterTable: ReportTable = {
    title: 'Simulated user (receive: /audio/subscribe → adaptive jitter buffer)',
    columns: ['metric', 'live buffer', 'recorder buffer'],
    rows: jitterKeys.map((k) => [k, fixed(jl[k]), fixed(jr[k])]),
  };
  const netTable: ReportTable = {
    title: "Simulated user's network (seeded impairment model)",
    columns: ['metric', 'value'],
    rows: [
      ['frames spoken', r.speaker.framesSent],
      ...Object.entries(r.speaker.impairmentStats).map(([k, v]) => [k, v] as [string, number]),
    ],
  };
  const recTable: ReportTable = {
    title: `Recordings (${(r.recording.durationMs / 1000).toFixed(2)} s session)`,
    columns: ['track', 'file', 'seconds', 'packets', 'filled', 'error'],
    rows: [
      ...r.recording.tracks.map((t) => [t.role, t.path, fixed(t.seconds), t.packets, t.fillPackets, t.error ?? null]),
      ...(r.recording.mixPath ? [['mix', r.recording.mixPath, null, null, null, r.recording.mixError ?? null]] : []),
    ],
  };
  const codecTable: ReportTable = {
    title: 'codecInfo()',
    columns: ['field', 'value'],
    rows: Object.entries(r.codec).map(([k, v]) => [k, String(v)]),
  };
  const sections: ReportSection[] = [
    {
      id: 'publish',
      title: 'Publish: the music bot',
      description:
        'The music bot plays the generated Ogg Opus file by passthrough; a pacer thread sends one frame every 20 ms. ' +
        "The histogram is measured at the emulator's gateway, when each WebSocket message was handled: the emulator " +
        "runs on the main thread next to the recorder and the simulated user, so its spread includes that event loop's " +
        'delays, while the pacer figures are measured on the pacer thread.',
      tables: [pacerTable],
      charts: [spacingChart],
    },
    {
      id: 'receive',
      title: 'Receive: the simulated user through an impaired network',
      description:
        'The user speaks through seeded jitter (Pareto tail), bursty loss, reordering, stalls and DTX. ' +
        'The live buffer adapts its delay to the arrivals; the recorder buffer keeps a 100 ms floor and never drops speech.',
      tables: [jitterTable, netTable],
      charts: [delayChart],
    },
    {
      id: 'files',
      title: 'Recordings and codecs',
      description:
        `${r.topology.note} Per-user files hold the received packets unchanged (silence, DTX and losses filled); ` +
        "the simulated user's packets carry in-band FEC, which ffmpeg's built-in Opus decoder cannot decode " +
        "(use a libopus player or 'ffmpeg -c:a libopus -i FILE'); the mix is re-encoded and plays anywhere.",
      tables: [recTable, codecTable],
      charts: [],
    },
  ];
  const cpu = cpus();
  return {
    title: `argon-voice demo${r.aborted ? ' (stopped early)' : ''}`,
    generatedAt: r.finishedAt,
    machine: {
      cpus: `${cpu.length} x ${cpu[0]?.model ?? 'unknown'}`,
      memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      'run length': `${r.ranSeconds.toFixed(1)} s of ${r.requestedSeconds} s`,
      seed: r.seed,
    },
    command: r.command,
    sections,
  };
}

/** `demo-report.json`'s text (NaN and ±Infinity become null). */
export function demoResultJson(r: DemoResult): string {
  return `${JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}
