/**
 * Sans-IO Server-Sent Events parser (WHATWG HTML §9.2.6 "Interpreting an event stream"):
 * bytes in, events out, no sockets, no timers.
 *
 * ```
 *   push(chunk) ──► split lines on CRLF | LF | CR (a CR at a chunk's end waits for a possible LF)
 *                    │
 *                    ├─ "event: x" / "data: y" / "id: z" / "retry: n" / ": comment"
 *                    └─ blank line ──► dispatch { event, data, id } (data lines joined with "\n")
 * ```
 *
 * Faults never throw out of `push`: an event larger than `maxEventBytes`, a line with an unknown
 * field, or bytes that are not UTF-8 produce a `{ type: 'error', error: ProtocolError }` item and the
 * parser resynchronises at the next line (or, for an oversized event, at the next blank line).
 * @packageDocumentation
 */
import { Buffer, isUtf8 } from 'node:buffer';
import { ProtocolError } from '../errors.js';

/**
 * One dispatched event. `event` defaults to `message`. `id` is the id given *in this event* (unlike a
 * browser's `lastEventId`, which persists; that one is {@link SseParser.lastEventId}) so that
 * de-duplication never mistakes an id-less event for a repeat.
 */
export interface SseEvent {
  type: 'event';
  event: string;
  data: string;
  id: string | undefined;
}

/** A parse fault, delivered in-band. */
export interface SseError {
  type: 'error';
  error: ProtocolError;
}

/** What {@link SseParser.push} returns. */
export type SseItem = SseEvent | SseError;

/** Options of an {@link SseParser}. */
export interface SseParserOptions {
  /** Largest event (sum of its line bytes) accepted; default 1 MiB. */
  maxEventBytes?: number;
  /** Report unknown field names as errors (default true; the spec says ignore — Argon never sends them). */
  strictFields?: boolean;
}

const LF = 10;
const CR = 13;
const EMPTY = Buffer.alloc(0);

/** Incremental SSE parser. Feed it any chunking; it yields the same events. */
export class SseParser {
  readonly #maxEventBytes: number;
  readonly #strict: boolean;
  /** Bytes of the current, unterminated line (copied: callers may reuse their buffers). */
  #scratch: Buffer = Buffer.allocUnsafe(256);
  #partialBytes = 0;
  /** The previous chunk ended with CR: a leading LF in the next one belongs to it. */
  #pendingCR = false;
  /** Dropping bytes until the end of the current line (line too long). */
  #skipLine = false;
  /** Dropping lines until the next blank line (event too large). */
  #skipEvent = false;
  #eventBytes = 0;
  #eventName = '';
  #data: string[] = [];
  #hasData = false;
  #lastId: string | undefined;
  #eventId: string | undefined;
  #firstLine = true;
  /** The `retry:` value last seen, in ms (Argon never sends one). */
  retryMs: number | undefined;

  constructor(options: SseParserOptions = {}) {
    this.#maxEventBytes = options.maxEventBytes ?? 1024 * 1024;
    this.#strict = options.strictFields ?? true;
  }

  /** The last event id seen (the `Last-Event-ID` a browser would send). */
  get lastEventId(): string | undefined {
    return this.#lastId;
  }

  /** Parses a chunk; returns the events (and faults) it completed, in order. */
  push(bytes: Uint8Array): SseItem[] {
    const out: SseItem[] = [];
    // A Buffer view (no copy) gives memchr-backed indexOf and fast utf8 slicing.
    const chunk = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let pos = 0;
    const len = chunk.length;
    if (this.#pendingCR) {
      this.#pendingCR = false;
      if (len > 0 && chunk[0] === LF) pos = 1;
    }
    let crFrom = chunk.indexOf(CR, pos);
    while (pos < len) {
      const lf = chunk.indexOf(LF, pos);
      if (crFrom !== -1 && crFrom < pos) crFrom = chunk.indexOf(CR, pos);
      let end: number;
      let next: number;
      if (crFrom !== -1 && (lf === -1 || crFrom < lf)) {
        end = crFrom;
        if (crFrom + 1 < len) next = chunk[crFrom + 1] === LF ? crFrom + 2 : crFrom + 1;
        else {
          next = len;
          this.#pendingCR = true;
        }
      } else if (lf !== -1) {
        end = lf;
        next = lf + 1;
      } else {
        this.#append(chunk.subarray(pos), out);
        return out;
      }
      const piece = chunk.subarray(pos, end);
      if (this.#partialBytes === 0 && !this.#skipLine) {
        // Common case: the whole line is inside this chunk — no copy.
        if (this.#eventBytes + piece.length > this.#maxEventBytes) {
          this.#oversize(out);
          this.#skipLine = true;
          this.#endLine(EMPTY, out);
        } else this.#endLine(piece, out);
      } else {
        this.#append(piece, out);
        this.#endLine(this.#scratch.subarray(0, this.#partialBytes), out);
      }
      pos = next;
    }
    return out;
  }

  /** Ends the input. An event without its closing blank line is discarded (SSE semantics). */
  end(): SseItem[] {
    const out: SseItem[] = [];
    // An unterminated last line is not a complete line; the spec drops it with the event.
    this.#partialBytes = 0;
    this.#resetEvent();
    this.#pendingCR = false;
    this.#skipLine = false;
    return out;
  }

  #append(bytes: Buffer, out: SseItem[]): void {
    if (this.#skipLine || bytes.length === 0) return;
    if (this.#eventBytes + this.#partialBytes + bytes.length > this.#maxEventBytes) {
      this.#oversize(out);
      this.#skipLine = true;
      this.#partialBytes = 0;
      return;
    }
    const need = this.#partialBytes + bytes.length;
    if (need > this.#scratch.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.#scratch.length * 2));
      this.#scratch.copy(grown, 0, 0, this.#partialBytes);
      this.#scratch = grown;
    }
    bytes.copy(this.#scratch, this.#partialBytes);
    this.#partialBytes = need;
  }

  #oversize(out: SseItem[]): void {
    if (!this.#skipEvent) {
      out.push({
        type: 'error',
        error: new ProtocolError(`SSE event larger than maxEventBytes (${this.#maxEventBytes}); event dropped`),
      });
    }
    this.#skipEvent = true;
    this.#data = [];
    this.#hasData = false;
  }

  #endLine(line: Buffer, out: SseItem[]): void {
    const wasSkipping = this.#skipLine;
    this.#skipLine = false;
    this.#partialBytes = 0;
    if (wasSkipping) return; // the rest of an oversized line
    if (line.length === 0) {
      this.#dispatch(out);
      return;
    }
    if (this.#skipEvent) return;
    this.#eventBytes += line.length + 1;
    if (!isUtf8(line)) {
      out.push({ type: 'error', error: new ProtocolError('SSE line is not valid UTF-8; line ignored') });
      return;
    }
    let text = line.toString('utf8');
    if (this.#firstLine) {
      this.#firstLine = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.#field(text, out);
  }

  #field(text: string, out: SseItem[]): void {
    const colon = text.indexOf(':');
    if (colon === 0) return; // comment
    let name: string;
    let value: string;
    if (colon === -1) {
      name = text;
      value = '';
    } else {
      name = text.slice(0, colon);
      value = text.charCodeAt(colon + 1) === 32 ? text.slice(colon + 2) : text.slice(colon + 1);
    }
    switch (name) {
      case 'data':
        this.#data.push(value);
        this.#hasData = true;
        return;
      case 'event':
        this.#eventName = value;
        return;
      case 'id':
        if (!value.includes('\0')) {
          this.#lastId = value;
          this.#eventId = value;
        }
        return;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        return;
      default:
        if (this.#strict) {
          const shown = text.length > 64 ? `${text.slice(0, 64)}…` : text;
          out.push({
            type: 'error',
            error: new ProtocolError(`malformed SSE line (unknown field): ${JSON.stringify(shown)}`),
          });
        }
    }
  }

  #dispatch(out: SseItem[]): void {
    if (this.#skipEvent) {
      this.#skipEvent = false;
      this.#resetEvent();
      return;
    }
    if (this.#hasData) {
      const data = this.#data.length === 1 ? this.#data[0]! : this.#data.join('\n');
      out.push({ type: 'event', event: this.#eventName || 'message', data, id: this.#eventId });
    }
    this.#resetEvent();
  }

  #resetEvent(): void {
    this.#eventName = '';
    this.#eventId = undefined;
    this.#data = [];
    this.#hasData = false;
    this.#eventBytes = 0;
    this.#skipEvent = false;
  }
}
