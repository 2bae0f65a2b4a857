/**
 * ICalls v20260401 (Accept, Reject, Ringing) — §R6.2. Verified bots only; Accept check order
 * not_verified → not_callee → not_ringing; Reject doubles as hang-up.
 * @packageDocumentation
 */
import type { RestCore } from '../core.js';
import { errorA, type RouteDef } from '../types.js';

const ONE_HOUR_S = 3600;

/** ICalls routes. */
export function callsRoutes(core: RestCore): RouteDef[] {
  const base = { iface: 'ICalls', version: 20260401, membership: false } as const;
  const notVerified = () => errorA(403, 'not_verified', 'This endpoint requires a verified bot.');
  const notCallee = () => errorA(403, 'not_callee', 'This call is not directed at this bot.');
  return [
    {
      ...base,
      method: 'POST',
      name: 'Accept',
      input: 'json',
      handle: async ({ body, bot }) => {
        const callId = body.guid('callId');
        if (!bot.verified) throw notVerified();
        const call = core.calls.get(callId);
        if (!call || call.botId !== bot.botId) throw notCallee();
        if (call.state !== 'ringing') throw errorA(400, 'not_ringing', 'Call is not in ringing state.');
        call.state = 'accepted';
        core.clock.clearTimeout(call.ringTimer);
        const token = await core.audio.mintToken({
          identity: bot.userId,
          name: bot.userId,
          room: call.room,
          ttlSeconds: ONE_HOUR_S,
        });
        call.onAccepted();
        return {
          status: 200,
          json: { token, roomName: call.room, callerId: call.callerId, audioBaseUrl: core.audio.url },
        };
      },
    },
    {
      ...base,
      method: 'POST',
      name: 'Reject',
      input: 'json',
      handle: ({ body, bot }) => {
        const callId = body.guid('callId');
        body.str('reason');
        if (!bot.verified) throw notVerified();
        const call = core.calls.get(callId);
        if (!call || call.botId !== bot.botId) throw notCallee();
        core.endCall(call, call.state === 'accepted' ? 'hangup' : 'rejected');
        return { status: 200, json: { rejected: true } };
      },
    },
    {
      ...base,
      method: 'GET',
      name: 'Ringing',
      input: 'none',
      handle: ({ bot }) => {
        if (!bot.verified) throw notVerified();
        return { status: 200, json: { calls: [] } };
      },
    },
  ];
}
