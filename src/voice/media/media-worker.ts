/**
 * Entry point of a media worker thread: one {@link MediaLane} per player, each feeding its pacer
 * stream through its own port into the pacer thread. Started by {@link MediaWorkerPool}; never
 * imported by library code on the main thread.
 * @packageDocumentation
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { waitForChange } from '../../util/atomics.js';
import { createAudioSource } from '../sources/create-source.js';
import { type LanePacer, MediaLane } from './lane.js';
import type { LaneLink, MediaReply, MediaRequest } from './protocol.js';

const CLEAR_DEADLINE_MS = 1000;

/** A pacer stream seen from this thread: frames and clears on the lane's port, credit in shared memory. */
class PortPacer implements LanePacer {
  readonly capacity: number;
  readonly #port: MessagePort;
  readonly #id: number;
  readonly #consumed: Int32Array;
  readonly #pushed: Int32Array;
  #req = 0;
  #pending = new Map<number, (r: { n: number; consumed: number }) => void>();

  constructor(link: LaneLink) {
    this.capacity = link.capacity;
    this.#port = link.port;
    this.#id = link.streamId;
    this.#consumed = new Int32Array(link.consumed);
    this.#pushed = new Int32Array(link.pushed);
    // Before any frame (same port, so in order): room for the lane's share of the lookahead.
    this.#port.postMessage({ t: 'capacity', id: this.#id, capacity: link.capacity });
    this.#port.on('message', (m: { t: string; req?: number; n?: number; consumed?: number }) => {
      if (m.t !== 'cleared' || m.req === undefined) return;
      this.#pending.get(m.req)?.({ n: m.n ?? 0, consumed: m.consumed ?? this.consumed() });
      this.#pending.delete(m.req);
    });
  }

  consumed(): number {
    return Atomics.load(this.#consumed, this.#id);
  }

  inFlight(): number {
    return Math.max(0, Atomics.load(this.#pushed, this.#id) - this.consumed());
  }

  post(frame: Uint8Array): void {
    // A copy, never a view: the lane may keep `frame` (a file's packet) to send again after a flush.
    const copy = new Uint8Array(frame);
    Atomics.add(this.#pushed, this.#id, 1);
    this.#port.postMessage({ t: 'frame', id: this.#id, data: copy }, [copy.buffer as ArrayBuffer]);
  }

  clear(): Promise<{ n: number; consumed: number }> {
    const req = ++this.#req;
    this.#port.postMessage({ t: 'clear', id: this.#id, req });
    return new Promise((resolve) => {
      // Deadline: a pacer thread that went away answers nothing; nothing was left to take back then.
      const timer = setTimeout(() => {
        this.#pending.delete(req);
        resolve({ n: 0, consumed: this.consumed() });
      }, CLEAR_DEADLINE_MS);
      this.#pending.set(req, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  }

  quiet(): void {
    this.#port.postMessage({ t: 'quiet', id: this.#id });
  }

  waitConsumed(seen: number, ms: number): Promise<void> {
    return waitForChange(this.#consumed, this.#id, seen, ms);
  }

  close(): void {
    for (const r of this.#pending.values()) r({ n: 0, consumed: this.consumed() });
    this.#pending.clear();
    this.#port.close();
  }
}

/** Runs the lanes of this thread from the main thread's {@link MediaRequest}s. */
export function runMediaWorker(port: MessagePort): void {
  const lanes = new Map<number, { lane: MediaLane; pacer: PortPacer }>();
  const emit = (m: MediaReply) => port.postMessage(m);
  port.on('message', (m: MediaRequest | { t: 'crash-for-test' }) => {
    if (m.t === 'crash-for-test') {
      // Test hook: an uncaught error, as a codec crash would give.
      setImmediate(() => {
        throw new Error('media worker crash requested by a test');
      });
      return;
    }
    if (m.t === 'open') {
      const pacer = new PortPacer({ ...m.link, capacity: Math.max(m.link.capacity, m.options.pacerFrames) });
      const lane = new MediaLane(m.lane, m.options, { pacer, createSource: createAudioSource, emit });
      lanes.set(m.lane, { lane, pacer });
      return;
    }
    const e = lanes.get(m.lane);
    if (!e) return;
    switch (m.t) {
      case 'play':
        e.lane.play(m.track);
        break;
      case 'pause':
        e.lane.pause();
        break;
      case 'resume':
        e.lane.resume();
        break;
      case 'skip':
        e.lane.skip();
        break;
      case 'stop':
        e.lane.stop();
        break;
      case 'seek':
        e.lane.seek(m.ms);
        break;
      case 'volume':
        e.lane.setVolume(m.volume);
        break;
      case 'close':
        lanes.delete(m.lane);
        void e.lane.close().then(() => {
          e.pacer.close();
          emit({ t: 'closed', lane: m.lane });
        });
        break;
    }
  });
}

// Only as a media worker (the pool marks its workerData), never when imported elsewhere.
if (parentPort && (workerData as { argonVoiceMedia?: boolean } | null)?.argonVoiceMedia) runMediaWorker(parentPort);
