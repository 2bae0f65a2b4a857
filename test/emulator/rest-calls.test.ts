/**
 * ICalls, IVoice and IVoiceEgress against the real audio gateway (docs/platform.md §R6, §R7): Accept
 * check order, tokens (TTL, identity, room), the caller joining `call_<hex>`, Reject as hang-up,
 * and an Accept token opening `/audio/duplex` on the gateway.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Emulator } from '../../src/emulator/index.js';
import { type RawResponse, rawHttp } from './helpers/raw-http.js';

let emu: Emulator;

function http(method: string, path: string, body: unknown, token = emu.bot.token): Promise<RawResponse> {
  return rawHttp(emu.apiUrl, method, path, body, token);
}

beforeAll(async () => {
  emu = await Emulator.start({ port: 0, audioPort: 0, audioTimings: { joinDelayMs: 0 } });
});
afterAll(async () => {
  await emu.close();
});

const ACCEPT = '/api/bot/ICalls/v20260401/Accept';
const REJECT = '/api/bot/ICalls/v20260401/Reject';

describe('ICalls (§R6.2)', () => {
  it('Accept checks not_verified → not_callee → not_ringing and returns the call payload', async () => {
    const alice = emu.demo.userIds[0];
    const call = emu.placeCall({ fromUserId: alice });
    const unverified = emu.createBot({ verified: false });
    const nv = await http('POST', ACCEPT, { callId: call.callId }, unverified.token);
    expect([nv.status, nv.json.error]).toEqual([403, 'not_verified']);
    expect((await http('GET', '/api/bot/ICalls/v20260401/Ringing', undefined, unverified.token)).status).toBe(403);
    const other = emu.createBot({ verified: true });
    expect((await http('POST', ACCEPT, { callId: call.callId }, other.token)).json.error).toBe('not_callee');
    expect((await http('POST', ACCEPT, {})).json.error).toBe('not_callee');
    const ok = await http('POST', ACCEPT, { callId: call.callId });
    expect(ok.status).toBe(200);
    expect(Object.keys(ok.json)).toEqual(['token', 'roomName', 'callerId', 'audioBaseUrl']);
    expect(ok.json.roomName).toBe(`call_${call.callId.replace(/-/g, '')}`);
    expect(ok.json.callerId).toBe(alice);
    expect(ok.json.audioBaseUrl).toBe(emu.audioUrl);
    const claims = decodeJwt(ok.json.token);
    expect(claims.sub).toBe(emu.bot.userId);
    expect((claims.exp ?? 0) - (claims.nbf ?? 0)).toBe(3600);
    expect((claims.video as { room: string }).room).toBe(ok.json.roomName);
    await call.accepted;
    expect(call.state).toBe('accepted');
    expect(emu.gateway.roomMembers(ok.json.roomName)).toContain(alice);
    expect(call.caller.identity).toBe(alice);
    const again = await http('POST', ACCEPT, { callId: call.callId });
    expect([again.status, again.json.error]).toEqual([400, 'not_ringing']);

    // The Accept token opens /audio/duplex on the gateway.
    const url = `${ok.json.audioBaseUrl}/audio/duplex?token=${ok.json.token}&target_identity=${alice}&target_track_source=microphone&stereo=false&frame_duration_ms=20`;
    const ws = new WebSocket(url);
    const first = await new Promise<string>((resolve, reject) => {
      ws.once('message', (d) => resolve(String(d)));
      ws.once('error', reject);
    });
    expect(JSON.parse(first).status).toBe('ready');
    ws.close();

    // Reject doubles as hang-up, and still answers rejected:true once ended.
    const rej = await http('POST', REJECT, { callId: call.callId, reason: 'bye' });
    expect(rej.text).toBe('{"rejected":true}');
    expect(await call.ended).toBe('hangup');
    expect(emu.gateway.roomMembers(ok.json.roomName)).not.toContain(alice);
    expect((await http('POST', REJECT, { callId: call.callId })).text).toBe('{"rejected":true}');
  });

  it('Reject while ringing ends the call; hangUp by the caller ends it too', async () => {
    const a = emu.placeCall({ fromUserId: emu.demo.userIds[1] });
    expect((await http('POST', REJECT, { callId: a.callId })).status).toBe(200);
    expect(await a.ended).toBe('rejected');
    await expect(a.accepted).rejects.toThrow();
    const b = emu.placeCall({ fromUserId: emu.demo.userIds[1] });
    b.hangUp();
    expect(await b.ended).toBe('hangup');
    expect((await http('POST', ACCEPT, { callId: b.callId })).json.error).toBe('not_ringing');
  });
});

describe('IVoice / IVoiceEgress (§R7)', () => {
  it('StreamToken returns a 2-h LiveKit token, the gateway URL and <space>/<channel>', async () => {
    const r = await http('POST', '/api/bot/IVoice/v1/StreamToken', {
      spaceId: emu.demo.spaceId,
      channelId: emu.demo.voiceChannelId,
    });
    expect(r.status).toBe(200);
    expect(Object.keys(r.json)).toEqual(['token', 'ingressUrl', 'roomName']);
    expect(r.json.ingressUrl).toBe(emu.audioUrl);
    expect(r.json.roomName).toBe(`${emu.demo.spaceId}/${emu.demo.voiceChannelId}`);
    const claims = decodeJwt(r.json.token);
    expect(claims.sub).toBe(emu.bot.userId);
    expect(claims.iss).toBe(emu.livekit.apiKey);
    expect((claims.exp ?? 0) - (claims.nbf ?? 0)).toBe(7200);
  });

  it('SubscribeTrack: membership before not_verified; payload with a fake SFU URL and a synthetic trackId', async () => {
    const unverified = emu.createBot({ verified: false });
    const body = { spaceId: emu.demo.spaceId, channelId: emu.demo.voiceChannelId, userId: emu.demo.userIds[0] };
    const nm = await http('POST', '/api/bot/IVoiceEgress/v20260401/SubscribeTrack', body, unverified.token);
    expect(nm.json.error).toBe('not_a_member');
    emu.addMember(emu.demo.spaceId, unverified.userId);
    const nv = await http('POST', '/api/bot/IVoiceEgress/v20260401/SubscribeTrack', body, unverified.token);
    expect(nv.json.error).toBe('not_verified');
    const ok = await http('POST', '/api/bot/IVoiceEgress/v20260401/SubscribeTrack', body);
    expect(Object.keys(ok.json)).toEqual(['token', 'wsUrl', 'roomName', 'trackId']);
    expect(ok.json.wsUrl).toMatch(/^https:\/\//);
    expect(ok.json.trackId).toBe(`${emu.demo.spaceId}/${emu.demo.voiceChannelId}:${emu.demo.userIds[0]}`);
  });

  it('Kick: kick_failed (message null) unless the user is in that voice channel', async () => {
    const bob = emu.demo.userIds[1];
    const path = `/api/bot/IMembers/v1/Kick?spaceId=${emu.demo.spaceId}&channelId=${emu.demo.voiceChannelId}&userId=${bob}`;
    expect((await http('POST', path, undefined)).text).toBe('{"error":"kick_failed","message":null}');
    emu.joinVoice(bob, { spaceId: emu.demo.spaceId, channelId: emu.demo.voiceChannelId });
    const room = `${emu.demo.spaceId}/${emu.demo.voiceChannelId}`;
    expect(emu.gateway.roomMembers(room)).toContain(bob);
    expect((await http('POST', path, undefined)).text).toBe('{"kicked":true}');
    expect(emu.gateway.roomMembers(room)).not.toContain(bob);
  });
});
