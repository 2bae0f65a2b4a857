/**
 * A stand-in for a subscriber or duplex session in receiver and recorder tests: it emits `frame`
 * events stamped with the fake clock's time, as egress frames are.
 */
import type { ManualClock } from '../../src/util/clock.js';
import { TypedEmitter } from '../../src/util/emitter.js';

export class FakeSource extends TypedEmitter<{ frame: [Uint8Array, number] }> {
  constructor(readonly clock: ManualClock) {
    super();
  }

  /** Emits `p` as arriving now. */
  send(p: Uint8Array): void {
    this.emit('frame', p, this.clock.now());
  }
}
