/**
 * Types of the media plane (type-only module): what crosses between the main thread, the media
 * worker threads and the pacer thread.
 *
 * ```
 *  main thread                 media worker (pool)                    pacer thread
 *  ───────────                 ───────────────────                    ────────────
 *  AudioPlayer ──MediaRequest──► MediaLane per player                  PacerStream per connection
 *   (controls only)              source → demux/ffmpeg → lookahead     │ FrameSchedule
 *              ◄─MediaReply────  (≈1 s) → gain → encode → validate ───► queue (4 frames) ─► ws.send
 *   (events, positions)                 frames: postMessage, buffer   ▲
 *                                       transferred on the lane's     │ consumed[id], pushed[id]
 *                                       own port into the pacer ──────┘ (SharedArrayBuffer credit)
 * ```
 * @packageDocumentation
 */
import type { PacerProducerLink } from '../../pacing/pacer.js';
import type { NormalizeOption } from '../sources/types.js';

/** How a lane feeds one pacer stream: the pacer's producer link, its port transferred to the media worker. */
export type LaneLink = PacerProducerLink;

/** Options of a lane, fixed for its life except `volume`. */
export interface LaneOptions {
  /** Channels of the published track. */
  channels: 1 | 2;
  /** Duration of every frame. */
  frameDurationMs: number;
  /** Frames prepared ahead of the pacer queue, across tracks (default 25 = 0.5 s at 20 ms). */
  lookaheadFrames: number;
  /**
   * Frames the lane keeps queued in the pacer itself (default 25). The pacer thread runs at
   * real-time priority where the OS allows it; the media thread does not, so on a busy machine
   * the frames that must not run out sit on the pacer's side. A control still acts within a
   * frame: it clears the pacer queue and takes those frames back.
   */
  pacerFrames: number;
  /** Linear gain. */
  volume: number;
  /** Crossfade between consecutive PCM tracks, in frames. */
  crossfadeFrames: number;
  /** Encoder bitrate. */
  bitrate?: number | undefined;
  /** Loudness normalisation for every track (unless the track says otherwise). */
  normalize?: NormalizeOption | undefined;
}

/** A track handed to a lane: an input the worker can open itself (path, URL or bytes). */
export interface LaneTrackSpec {
  /** The player's track id. */
  id: number;
  /** Path or URL, or the bytes of a file (copied into the worker). */
  input: string | Uint8Array;
  /** Start this far into the input. */
  seekMs?: number | undefined;
  /** Loudness normalisation for this track. */
  normalize?: NormalizeOption | undefined;
  /** Title, for error messages. */
  title: string;
}

/** Main thread → media worker. */
export type MediaRequest =
  | { t: 'open'; lane: number; link: LaneLink; options: LaneOptions }
  | { t: 'play'; lane: number; track: LaneTrackSpec }
  | { t: 'pause' | 'resume' | 'skip' | 'stop' | 'close'; lane: number }
  | { t: 'seek'; lane: number; ms: number }
  | { t: 'volume'; lane: number; volume: number };

/** A serialised error (structured clone keeps no class). */
export interface WireError {
  name: string;
  code: string | undefined;
  message: string;
}

/** Counters of one lane. */
export interface LaneStats {
  /** Frames waiting in the lookahead (not yet in the pacer queue). */
  lookahead: number;
  /** Frames posted to the pacer. */
  framesFed: number;
  /** Frames replaced by silence because they were not gateway-safe. */
  invalidFrames: number;
  /** Times the lookahead ran dry while a track was still being read (source slower than real time). */
  lookaheadStarved: number;
}

/** Media worker → main thread. */
export type MediaReply =
  | { t: 'started'; lane: number; track: number }
  | { t: 'position'; lane: number; track: number; ms: number }
  | { t: 'ended'; lane: number; track: number; frames: number; status: 'finished' | 'stopped' }
  | { t: 'error'; lane: number; track: number; frames: number; error: WireError }
  | { t: 'idle'; lane: number; stats: LaneStats }
  | { t: 'invalid'; lane: number; frame: Uint8Array; message: string }
  | { t: 'closed'; lane: number };
