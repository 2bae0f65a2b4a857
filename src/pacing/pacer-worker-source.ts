/**
 * The pacer thread's program, shipped as source text (`new Worker(code, { eval: true })`) so it
 * loads the same way from TypeScript sources under a test runner and from `dist/` after tsc.
 * It is assembled from the `.toString()` of self-contained classes ({@link FrameSchedule},
 * {@link PacerStream}, {@link SocketLink}) plus {@link pacerWorkerMain}.
 *
 * Protocol (control by postMessage; producer credit through a SharedArrayBuffer):
 * ```
 *  main ──{add,frame,filler,start,stop,clear,connect,disconnect,remove,metrics,exit}──► worker
 *  main ◄──{hello, sock(id, event), metrics(id, snapshot)}─────────────────────────────── worker
 *  consumed[id] (Int32, SAB): frames the worker took off stream id's queue; Atomics.notify'd,
 *  so the producer awaits room with Atomics.waitAsync instead of a message per frame.
 * ```
 * @packageDocumentation
 */
import type { NativeAddon } from '../codec/native.js';
import {
  PacerStream,
  type PacerStreamCounters,
  type SocketEvent,
  SocketLink,
  type SocketLinkOptions,
} from './pacer-core.js';
import { FrameSchedule, type FrameScheduleOptions } from './schedule.js';

/** Data handed to the worker. */
export interface PacerWorkerData {
  /** Absolute path of the `ws` package entry. */
  wsPath: string;
  /** Absolute path of the native addon, if one may exist. */
  nativePath: string | undefined;
  /** Ask for real-time scheduling on the pacer thread. */
  realtimePriority: boolean;
  /** consumed counters, one Int32 per stream slot. */
  consumed: SharedArrayBuffer;
  /** pushed counters, one Int32 per stream slot (bumped by whoever posts a frame: main thread or media worker). */
  pushed: SharedArrayBuffer;
  /** Period of metric snapshots per stream. */
  metricsIntervalMs: number;
}

/** Messages from the main thread to the pacer thread (structured-cloned; `frame` data is transferred). */
export type PacerWorkerRequest =
  | { t: 'add'; id: number; schedule: FrameScheduleOptions; capacity: number }
  | { t: 'frame'; id: number; data: Uint8Array }
  | { t: 'filler'; id: number; data: Uint8Array | null }
  | { t: 'start'; id: number; preroll: number }
  | { t: 'stop' | 'remove' | 'quiet'; id: number }
  /** Deepens (or restores) the stream's queue bound: a producer that can take frames back asks for more room. */
  | { t: 'capacity'; id: number; capacity: number }
  /** With `req`, answered by `cleared` on the port the request came from. */
  | { t: 'clear'; id: number; req?: number }
  | { t: 'connect'; id: number; link: SocketLinkOptions }
  | { t: 'disconnect'; id: number; code: number; terminate: boolean }
  | { t: 'metrics'; id: number; req: number }
  /** Another producer's port (a media worker): it speaks this same protocol for the streams it feeds. */
  | { t: 'port'; id?: undefined; port: import('node:worker_threads').MessagePort }
  /** The only other message without a stream id: ends the thread. */
  | { t: 'exit'; id?: undefined };

/** Messages from the pacer thread to the main thread. */
export type PacerWorkerReply =
  | { t: 'hello'; clock: 'native' | 'atomics'; realtime: boolean; realtimeError: string | undefined }
  | { t: 'sock'; id: number; ev: SocketEvent }
  /** `req` echoes a {@link PacerWorkerRequest} `metrics`; absent on the periodic snapshots. */
  | { t: 'metrics'; id: number; req?: number; snap: PacerStreamCounters }
  /** Stream `id` is gone and none of its messages follow: the id may be reused. */
  | { t: 'removed'; id: number }
  /**
   * Answer to a `clear` with `req`: `n` frames were dropped unsent, and `consumed` is the stream's
   * consumed counter right after (so the producer knows which of its frames went out).
   */
  | { t: 'cleared'; id: number; req: number; n: number; consumed: number };

/**
 * Entry point of the pacer thread. Must reference nothing but its parameters and globals.
 * @internal
 */
export function pacerWorkerMain(
  FrameScheduleCtor: typeof FrameSchedule,
  PacerStreamCtor: typeof PacerStream,
  SocketLinkCtor: typeof SocketLink,
): void {
  // The worker runs as CommonJS eval code, where require is the loader.
  const wt = require('node:worker_threads');
  const { performance } = require('node:perf_hooks');
  const port = wt.parentPort;
  const data = wt.workerData as PacerWorkerData;
  const { WebSocket } = require(data.wsPath);
  const consumed = new Int32Array(data.consumed);
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const SPIN_WINDOW_MS = 2;
  const COALESCE_MS = 0.25;

  // Partial: whatever sits at nativePath is checked member by member before use.
  let addon: Partial<NativeAddon> | undefined;
  try {
    if (data.nativePath) addon = require(data.nativePath);
  } catch {
    addon = undefined;
  }
  const nativeClock =
    addon && typeof addon.sleepUntilNs === 'function' && typeof addon.monotonicNs === 'function'
      ? (addon as Pick<NativeAddon, 'sleepUntilNs' | 'monotonicNs'>)
      : undefined;
  const nativeSleep = nativeClock !== undefined;
  let realtime = false;
  let realtimeError: string | undefined;
  if (data.realtimePriority) {
    if (addon && typeof addon.setRealtimePriority === 'function') {
      try {
        const r = addon.setRealtimePriority(10);
        realtime = typeof r === 'boolean' ? r : !!r?.ok;
        if (!realtime) realtimeError = typeof r === 'object' && r?.error ? String(r.error) : 'refused by the OS';
      } catch (e) {
        realtimeError = String((e as Error)?.message ?? e);
      }
    } else {
      realtimeError = 'native addon not loaded';
    }
  }
  const now = (): number => performance.now();
  const wallNow = (): number => performance.timeOrigin + performance.now();

  /** Sleeps until `target` (ms on `now()`): native absolute sleep, else Atomics.wait, then a short spin. */
  const preciseSleepUntil = (target: number): void => {
    let rest = target - now();
    if (rest <= 0) return;
    if (nativeClock) {
      nativeClock.sleepUntilNs(nativeClock.monotonicNs() + BigInt(Math.round(rest * 1e6)));
    } else if (rest > 0.25) {
      Atomics.wait(sleeper, 0, 0, rest - 0.2);
    }
    while (now() < target) {
      /* spin: at most ~0.2 ms */
    }
    rest = 0;
  };

  interface Entry {
    stream: PacerStream;
    link: SocketLink | undefined;
    send: (f: Uint8Array) => boolean;
    metricsTimer: ReturnType<typeof setInterval>;
  }
  const streams = new Map<number, Entry>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let immediate = false;

  const post = (msg: PacerWorkerReply, transfer?: ArrayBuffer[]) => port.postMessage(msg, transfer);
  const publishConsumed = (id: number, e: Entry) => {
    if (Atomics.load(consumed, id) !== (e.stream.consumed | 0)) {
      Atomics.store(consumed, id, e.stream.consumed | 0);
      Atomics.notify(consumed, id);
    }
  };

  const loop = (): void => {
    timer = undefined;
    immediate = false;
    for (let round = 0; round < 64; round++) {
      let next = Number.POSITIVE_INFINITY;
      // Streams due within COALESCE_MS are served in the same wake-up (sent ≤ 0.25 ms early):
      // with hundreds of streams at spread phases this turns one wake-up per stream into a few.
      const horizon = now() + COALESCE_MS;
      for (const [id, e] of streams) {
        const t = e.stream.run(horizon, e.send, now);
        publishConsumed(id, e);
        if (t < next) next = t;
      }
      if (next === Number.POSITIVE_INFINITY) return;
      const wait = next - now();
      if (wait > SPIN_WINDOW_MS) {
        timer = setTimeout(loop, wait - SPIN_WINDOW_MS);
        return;
      }
      preciseSleepUntil(next);
    }
    kick();
  };
  const kick = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (!immediate) {
      immediate = true;
      setImmediate(loop);
    }
  };

  post({ t: 'hello', clock: nativeSleep ? 'native' : 'atomics', realtime, realtimeError });

  const ports: Array<{ close(): void }> = [];
  const onMessage = (m: PacerWorkerRequest, reply: (msg: PacerWorkerReply) => void): void => {
    // `exit` and `port` have no id: get(undefined) is a plain miss, and those cases do not read `e`.
    const e = streams.get(m.id as number);
    switch (m.t) {
      case 'port':
        ports.push(m.port);
        m.port.on('message', (x: PacerWorkerRequest) => onMessage(x, (r) => m.port.postMessage(r)));
        break;
      case 'quiet':
        e?.stream.quiet();
        break;
      case 'capacity':
        if (e) e.stream.capacity = Math.max(1, Math.min(1000, Math.floor(m.capacity)));
        break;
      case 'add': {
        const stream = new PacerStreamCtor(new FrameScheduleCtor(m.schedule), { capacity: m.capacity });
        Atomics.store(consumed, m.id, 0);
        const entry: Entry = {
          stream,
          link: undefined,
          send: (f) => entry.link?.send(f) ?? false,
          metricsTimer: setInterval(
            () => post({ t: 'metrics', id: m.id, snap: stream.snapshot() }),
            data.metricsIntervalMs,
          ),
        };
        streams.set(m.id, entry);
        break;
      }
      case 'frame':
        if (e?.stream.push(m.data)) {
          if (e.stream.schedule.started && e.stream.depth === 1) kick();
        } else if (e) {
          e.stream.consumed++; // overflow: counted as consumed so the producer's credit stays right
          publishConsumed(m.id, e);
        }
        break;
      case 'filler':
        if (e) e.stream.filler = m.data ?? undefined;
        break;
      case 'start':
        if (e) {
          e.stream.start(now(), m.preroll);
          kick();
        }
        break;
      case 'stop':
        e?.stream.stop();
        break;
      case 'clear': {
        const n = e ? e.stream.clear() : 0;
        if (e) publishConsumed(m.id, e);
        if (m.req !== undefined)
          reply({ t: 'cleared', id: m.id, req: m.req, n, consumed: e ? e.stream.consumed | 0 : 0 });
        break;
      }
      case 'connect':
        if (e) {
          e.link = new SocketLinkCtor(
            WebSocket,
            m.link,
            (ev) => {
              if (ev.type === 'binary') post({ t: 'sock', id: m.id, ev }, [ev.data.buffer as ArrayBuffer]);
              else post({ t: 'sock', id: m.id, ev });
            },
            wallNow,
          );
        }
        break;
      case 'disconnect':
        e?.link?.close(m.code, m.terminate);
        break;
      case 'metrics':
        if (e) post({ t: 'metrics', id: m.id, req: m.req, snap: e.stream.snapshot() });
        break;
      case 'remove':
        if (e) {
          e.stream.stop();
          e.link?.close(1000, true);
          clearInterval(e.metricsTimer);
          streams.delete(m.id);
        }
        post({ t: 'removed', id: m.id });
        break;
      case 'exit':
        for (const x of streams.values()) {
          x.link?.close(1000, true);
          clearInterval(x.metricsTimer);
        }
        streams.clear();
        if (timer !== undefined) clearTimeout(timer);
        for (const p of ports) p.close();
        port.close();
        break;
    }
  };
  port.on('message', (m: PacerWorkerRequest) => onMessage(m, post));
}

/** Builds the worker program text. */
export function pacerWorkerSource(): string {
  return [
    '"use strict";',
    // Helpers a TS transpiler (esbuild under tsx/vitest, keepNames) may reference in the sources.
    'var __name = (t, v) => { try { Object.defineProperty(t, "name", { value: v, configurable: true }); } catch {} return t; };',
    'var __publicField = (o, k, v) => { Object.defineProperty(o, typeof k !== "symbol" ? k + "" : k, { value: v, enumerable: true, configurable: true, writable: true }); return v; };',
    `const FrameSchedule = (${FrameSchedule.toString()});`,
    `const PacerStream = (${PacerStream.toString()});`,
    `const SocketLink = (${SocketLink.toString()});`,
    `(${pacerWorkerMain.toString()})(FrameSchedule, PacerStream, SocketLink);`,
  ].join('\n');
}
