/**
 * The SFU side of the emulator, reduced to what the audio gateway observes: rooms, members
 * (gateway sessions and simulated people), audio tracks, and subscriptions by target identity
 * and source filter. Forwarding is immediate, with no pacing or buffering (§A4.1, §A5.1).
 *
 * ```
 *  member joins ──► same identity present? ──► old member removed ('duplicate-identity')
 *  track published ──► every subscriber whose (target, source filter) matches ──► onSubscribed
 *  frame on track  ──► same matching subscribers ──► onFrame (synchronously)
 *  member leaves   ──► its tracks vanish, then subscribers targeting it ──► onTargetLeft
 * ```
 * @packageDocumentation
 */
import { randomInt } from 'node:crypto';
import type { TrackSource } from './types.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A LiveKit-style short GUID: `prefix` + `length` random base62 characters. */
export function shortGuid(prefix: string, length = 12): string {
  let s = prefix;
  for (let i = 0; i < length; i++) s += BASE62[randomInt(62)];
  return s;
}

/** Why a member was taken out of its room by someone else. */
export type RemovalReason = 'duplicate-identity' | 'kicked' | 'room-closed';

/** A participant of a room: a gateway session or a simulated person. */
export interface RoomMember {
  readonly identity: string;
  /** Hidden members (subscribe sessions) trigger no `target_left` for others. */
  readonly hidden: boolean;
  /** Called once when the room removes this member (not when it leaves by itself). */
  onRemoved(reason: RemovalReason): void;
}

/** A published audio track. */
export interface RoomTrack {
  readonly sid: string;
  readonly identity: string;
  readonly source: TrackSource;
  readonly name: string;
}

/** Something that receives audio of matching tracks. */
export interface RoomSubscriber {
  /** Identity of the member that owns the subscription (never receives its own tracks). */
  readonly identity: string;
  /** Target identity; `undefined` = every other member. */
  readonly targetIdentity: string | undefined;
  /** Source filter; `undefined` = any audio source. */
  readonly source: TrackSource | undefined;
  onSubscribed(track: RoomTrack): void;
  onFrame(track: RoomTrack, data: Uint8Array): void;
  onTargetLeft(identity: string): void;
}

/** One room. */
export class Room {
  readonly name: string;
  readonly #members = new Map<string, RoomMember>();
  readonly #tracks = new Map<string, RoomTrack>();
  readonly #subscribers = new Set<RoomSubscriber>();

  constructor(name: string) {
    this.name = name;
  }

  /** Whether nobody is in the room. */
  get empty(): boolean {
    return this.#members.size === 0 && this.#subscribers.size === 0;
  }

  /** Whether `identity` is a member. */
  has(identity: string): boolean {
    return this.#members.has(identity);
  }

  /** The member with `identity`, if any. */
  member(identity: string): RoomMember | undefined {
    return this.#members.get(identity);
  }

  /** Identities of the members. */
  identities(): string[] {
    return [...this.#members.keys()];
  }

  /** Tracks currently published, optionally by one identity. */
  tracks(identity?: string): RoomTrack[] {
    return [...this.#tracks.values()].filter((t) => identity === undefined || t.identity === identity);
  }

  /** Adds a member. A member with the same identity is removed first (LiveKit identity uniqueness, §A6). */
  join(member: RoomMember): void {
    const old = this.#members.get(member.identity);
    if (old && old !== member) this.remove(member.identity, 'duplicate-identity');
    this.#members.set(member.identity, member);
  }

  /** Removes a member on someone else's initiative and tells it why. */
  remove(identity: string, reason: RemovalReason): void {
    const m = this.#members.get(identity);
    if (!m) return;
    this.leave(m);
    m.onRemoved(reason);
  }

  /** A member leaves: its tracks and subscriptions vanish, then targeting subscribers hear `target_left`. */
  leave(member: RoomMember): void {
    if (this.#members.get(member.identity) !== member) return;
    this.#members.delete(member.identity);
    for (const [sid, t] of this.#tracks) if (t.identity === member.identity) this.#tracks.delete(sid);
    for (const s of [...this.#subscribers]) if (s.identity === member.identity) this.#subscribers.delete(s);
    if (member.hidden) return;
    for (const s of [...this.#subscribers]) {
      if (s.targetIdentity === member.identity && this.#subscribers.has(s)) s.onTargetLeft(member.identity);
    }
  }

  #matches(s: RoomSubscriber, t: RoomTrack): boolean {
    if (t.identity === s.identity) return false;
    if (s.targetIdentity !== undefined && s.targetIdentity !== t.identity) return false;
    return s.source === undefined || s.source === t.source;
  }

  /** Publishes a track with a fresh `TR_` sid and announces it to matching subscribers. */
  publish(identity: string, source: TrackSource, name: string): RoomTrack {
    const track: RoomTrack = { sid: shortGuid('TR_'), identity, source, name };
    this.#tracks.set(track.sid, track);
    for (const s of [...this.#subscribers])
      if (this.#subscribers.has(s) && this.#matches(s, track)) s.onSubscribed(track);
    return track;
  }

  /** Unpublishes a track. Subscribers are told nothing (§A5.3). */
  unpublish(sid: string): void {
    this.#tracks.delete(sid);
  }

  /** Whether `track` is still published. */
  isPublished(track: RoomTrack): boolean {
    return this.#tracks.get(track.sid) === track;
  }

  /** Adds a subscriber and returns the tracks it matches right now (the caller announces them). */
  subscribe(s: RoomSubscriber): RoomTrack[] {
    this.#subscribers.add(s);
    return [...this.#tracks.values()].filter((t) => this.#matches(s, t));
  }

  /** Removes a subscriber. */
  unsubscribe(s: RoomSubscriber): void {
    this.#subscribers.delete(s);
  }

  /** Forwards one frame of `track` to every matching subscriber, at once, in order. */
  forward(track: RoomTrack, data: Uint8Array): void {
    if (!this.isPublished(track)) return;
    for (const s of [...this.#subscribers])
      if (this.#subscribers.has(s) && this.#matches(s, track)) s.onFrame(track, data);
  }

  /** Removes every member (room closed). */
  close(): void {
    // Everyone goes at once: nobody hears `target_left` (the SFU disconnects the whole room).
    const members = [...this.#members.values()];
    this.#subscribers.clear();
    this.#tracks.clear();
    this.#members.clear();
    for (const m of members) m.onRemoved('room-closed');
  }
}

/** All rooms by name, created on first use. */
export class RoomRegistry {
  readonly #rooms = new Map<string, Room>();

  /** The room named `name`, created if needed. */
  get(name: string): Room {
    let r = this.#rooms.get(name);
    if (!r) {
      r = new Room(name);
      this.#rooms.set(name, r);
    }
    return r;
  }

  /** The room if it exists. */
  find(name: string): Room | undefined {
    return this.#rooms.get(name);
  }

  /**
   * Drops a room object once nobody is in it. Deferred to a microtask: a member removed for a
   * duplicate identity leaves the room empty for a moment, until its replacement is added.
   */
  gc(name: string): void {
    queueMicrotask(() => {
      const r = this.#rooms.get(name);
      if (r?.empty) this.#rooms.delete(name);
    });
  }

  /** Every room. */
  all(): Room[] {
    return [...this.#rooms.values()];
  }
}
