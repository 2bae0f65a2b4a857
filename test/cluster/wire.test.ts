import { describe, expect, it } from 'vitest';
import { ClusterError } from '../../src/cluster/errors.js';
import { clusterNames, nameToken } from '../../src/cluster/names.js';
import {
  encode,
  parseCommand,
  parseLease,
  parseReply,
  parseSpaceState,
  parseWorkerStatus,
} from '../../src/cluster/wire.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('cluster wire format', () => {
  it('round-trips a space state and a command', () => {
    const state = {
      v: 1 as const,
      spaceId: 's',
      channelId: 'c',
      active: true,
      current: { track: { id: '1', input: '/a.opus', title: 'a' }, positionMs: 1234, reportedAtMs: 5 },
      queue: [{ id: '2', input: '/b.opus', title: 'b' }],
      volume: 0.5,
      paused: false,
      holder: 'w1',
      epoch: 3,
    };
    expect(parseSpaceState(encode(state))).toEqual(state);
    expect(parseCommand(encode({ op: 'play', input: '/a.opus' }))).toMatchObject({ op: 'play', input: '/a.opus' });
    expect(parseCommand(encode({ op: 'volume', volume: 1.5 }))).toEqual({ op: 'volume', volume: 1.5 });
  });

  it.each([
    ['not JSON', '{'],
    ['not UTF-8', '\xff'],
    ['an array', '[]'],
    ['an unknown op', '{"op":"format-disk"}'],
    ['play without input', '{"op":"play"}'],
    ['a volume out of range', '{"op":"volume","volume":99}'],
  ])('rejects %s as a command with a typed bad-message error', (_what, text) => {
    const b = text === '\xff' ? new Uint8Array([0xff, 0xfe]) : bytes(text);
    expect(() => parseCommand(b)).toThrow(ClusterError);
    try {
      parseCommand(b);
    } catch (err) {
      expect(err).toMatchObject({ code: 'ARGON_VOICE_CLUSTER', reason: 'bad-message' });
    }
  });

  it('rejects malformed states, leases, replies and heartbeats', () => {
    expect(() => parseSpaceState(bytes('{"v":1,"spaceId":"s","channelId":"c"}'))).toThrow(ClusterError);
    expect(() => parseSpaceState(bytes('{"v":2}'))).toThrow(/version/);
    expect(() => parseLease(bytes('{"holder":5}'))).toThrow(ClusterError);
    expect(() => parseReply(bytes('{"ok":"yes"}'))).toThrow(ClusterError);
    expect(() =>
      parseWorkerStatus(bytes('{"v":1,"workerId":"w","atMs":1,"load":1,"maxStreams":2,"spaces":[{}]}')),
    ).toThrow(ClusterError);
    expect(() => parseCommand(new Uint8Array(300 * 1024).fill(32))).toThrow(/limit/);
  });

  it('names subjects and buckets with unsafe characters replaced', () => {
    expect(nameToken('a.b*c>d e')).toBe('a_b_c_d_e');
    const n = clusterNames('bot.1');
    expect(n.cmd('sp.ace')).toBe('argon.bot_1.cmd.sp_ace');
    expect(n.event(undefined, 'ready')).toBe('argon.bot_1.events._.ready');
    expect(n.event('s1', 'messageCreate')).toBe('argon.bot_1.events.s1.messageCreate');
    expect(n.leasesBucket).toBe('argon_bot_1_leases');
  });
});
