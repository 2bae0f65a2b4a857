/**
 * IVoice v1 (StreamToken, §R7.1) and IVoiceEgress v20260401 (SubscribeTrack, UnsubscribeTrack, §R7.2).
 * @packageDocumentation
 */
import type { RestCore } from '../core.js';
import { errorA, type RouteDef } from '../types.js';

const TWO_HOURS_S = 2 * 3600;

/** IVoice + IVoiceEgress routes. */
export function voiceRoutes(core: RestCore): RouteDef[] {
  const voiceChannel = (spaceId: string, channelId: string) => {
    const ch = core.state.channels.get(channelId);
    if (!ch || ch.spaceId !== spaceId) throw errorA(404, 'channel_not_found', 'Channel not found.');
    if (ch.type !== 1) throw errorA(400, 'not_voice_channel', 'Channel is not a voice channel.');
    return ch;
  };
  const notVerified = () => errorA(403, 'not_verified', 'This endpoint requires a verified bot.');
  return [
    {
      iface: 'IVoice',
      version: 1,
      membership: true,
      method: 'POST',
      name: 'StreamToken',
      input: 'json',
      handle: async ({ body, bot, filter }) => {
        const spaceId = body.guid('spaceId');
        const channelId = body.guid('channelId');
        filter();
        voiceChannel(spaceId, channelId);
        const roomName = `${spaceId}/${channelId}`;
        const token = await core.audio.mintToken({
          identity: bot.userId,
          name: bot.userId,
          room: roomName,
          ttlSeconds: TWO_HOURS_S,
        });
        return { status: 200, json: { token, ingressUrl: core.audio.url, roomName } };
      },
    },
    {
      iface: 'IVoiceEgress',
      version: 20260401,
      membership: true,
      method: 'POST',
      name: 'SubscribeTrack',
      input: 'json',
      handle: async ({ body, bot, filter }) => {
        const spaceId = body.guid('spaceId');
        const channelId = body.guid('channelId');
        const userId = body.guid('userId');
        filter();
        if (!bot.verified) throw notVerified();
        voiceChannel(spaceId, channelId);
        const roomName = `${spaceId}/${channelId}`;
        const token = await core.audio.mintToken({
          identity: bot.userId,
          name: bot.userId,
          room: roomName,
          ttlSeconds: TWO_HOURS_S,
        });
        return { status: 200, json: { token, wsUrl: core.sfuUrl, roomName, trackId: `${roomName}:${userId}` } };
      },
    },
    {
      iface: 'IVoiceEgress',
      version: 20260401,
      membership: true,
      method: 'DELETE',
      name: 'UnsubscribeTrack',
      input: 'json',
      handle: ({ body, bot, filter }) => {
        body.str('trackId');
        filter();
        if (!bot.verified) throw notVerified();
        return { status: 200, json: { deleted: true } };
      },
    },
  ];
}
