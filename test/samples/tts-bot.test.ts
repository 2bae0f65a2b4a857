import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Emulator } from '../../src/emulator/index.js';
import type { TtsEngine } from '../../src/tts/types.js';
import { run } from '../../samples/tts-bot/index.js';

let emu: Emulator;
beforeAll(async () => {
  emu = await Emulator.start({ port: 0, timings: { sseBatchMs: 50 } });
});
afterAll(async () => {
  await emu.close();
});

/** Opus frames (20 ms) that `samples` at `rate` must fill: the last one is zero-padded. */
const framesFor = (samples: number, rate: number) => Math.ceil((samples * 48_000) / rate / 960);

describe('tts-bot sample', () => {
  it('speaks each message of the text channel with eSpeak NG, one frame per 20 ms of speech', async () => {
    const messages = ['Hello there.', 'Second message.'];
    const r = await run({ emulator: emu, env: {}, demoMessages: messages });
    expect(r.engine).toBe('espeak-ng-wasm');
    expect(r.utterances.map((u) => [u.text, u.status])).toEqual(messages.map((m) => [m, 'spoken']));
    for (const u of r.utterances) {
      expect(u.sampleRate).toBe(22_050);
      expect(u.samples).toBeGreaterThan(0);
      expect(u.frames).toBe(framesFor(u.samples!, u.sampleRate!));
    }
    const total = r.utterances.reduce((a, u) => a + u.frames!, 0);
    // Everything spoken reached the listener (plus the connection's silence filler around it);
    // speech frames are all the non-filler ones (digital silence inside speech can encode as filler).
    const demo = r.demo!;
    expect(demo.framesHeard).toBeGreaterThanOrEqual(total);
    expect(demo.speechFrames).toBeLessThanOrEqual(total);
    expect(demo.speechFrames).toBeGreaterThan(total / 2);
  });

  it('takes any engine behind the TtsEngine interface (PCM in, any rate)', async () => {
    // A stand-in for a cloud engine: 16 kHz PCM, 0.5 s of tone per message.
    const calls: string[] = [];
    const engine: TtsEngine = {
      name: 'fake-cloud',
      async synthesize(text) {
        calls.push(text);
        const pcm = new Int16Array(8000);
        for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 300 * i) / 16_000));
        return { pcm, sampleRate: 16_000, channels: 1 };
      },
    };
    // Every frame is counted: a late pacer slot (a busy machine) must delay a frame, never drop it.
    const r = await run({
      emulator: emu,
      env: {},
      engine,
      demoMessages: ['one'],
      pacer: { latePolicy: 'burst', maxBurst: 1000 },
    });
    expect(calls).toEqual(['one']);
    expect(r.engine).toBe('fake-cloud');
    expect(r.utterances[0]!.frames).toBe(25);
    expect(r.demo!.speechFrames).toBe(25);
  });
});
