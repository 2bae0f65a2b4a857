/**
 * Reading what the router published: an ordered JetStream consumer over one space's events
 * (`argon.<bot>.events.<space>.>`) or all of them.
 * @packageDocumentation
 */
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { clusterNames } from './names.js';
import type { NatsConnection } from './nats.js';

/** An event as the router published it (bigints arrive as decimal strings). */
export interface RoutedEvent {
  subject: string;
  /** JetStream sequence. */
  seq: number;
  /** Platform event id (`<spaceHex>_<seq>`, `direct_<seq>`, `ready`), when it had one. */
  id: string | undefined;
  type: string;
  data: unknown;
}

/** Options of {@link routedEvents}. */
export interface RoutedEventsOptions {
  /** Only this space's events (default: every event). */
  spaceId?: string | undefined;
  /** `all`: from the oldest kept (10 min); `new` (default): from now on. */
  from?: 'all' | 'new' | undefined;
  /** Ends the iteration. */
  signal?: AbortSignal | undefined;
  /** Called for a message that is not a routed event (it is skipped). */
  onMalformed?: ((subject: string) => void) | undefined;
}

/**
 * Iterates routed events in stream order (an ordered consumer: no acks, recreated by the
 * client after a reconnect). Ends when `signal` fires.
 */
export async function* routedEvents(
  nc: NatsConnection,
  botId: string,
  options: RoutedEventsOptions = {},
): AsyncGenerator<RoutedEvent> {
  const names = clusterNames(botId);
  const js = jetstream(nc);
  const consumer = await js.consumers.get(names.eventsStream, {
    filter_subjects: options.spaceId ? names.spaceEvents(options.spaceId) : names.eventsAll,
    deliver_policy: options.from === 'all' ? DeliverPolicy.All : DeliverPolicy.New,
  });
  const messages = await consumer.consume();
  const stop = () => void messages.close();
  options.signal?.addEventListener('abort', stop, { once: true });
  if (options.signal?.aborted) stop();
  const dec = new TextDecoder();
  try {
    for await (const m of messages) {
      let o: { id?: unknown; type?: unknown; data?: unknown };
      try {
        o = JSON.parse(dec.decode(m.data)) as typeof o;
      } catch {
        options.onMalformed?.(m.subject);
        continue;
      }
      if (typeof o !== 'object' || o === null || typeof o.type !== 'string') {
        options.onMalformed?.(m.subject);
        continue;
      }
      yield {
        subject: m.subject,
        seq: m.seq,
        id: typeof o.id === 'string' ? o.id : undefined,
        type: o.type,
        data: o.data,
      };
    }
  } finally {
    options.signal?.removeEventListener('abort', stop);
    await messages.close();
  }
}
