/**
 * Slash commands for the samples: register (or reuse) a set of space commands, then route this
 * bot's `commandInteraction` events to handlers one at a time and post each handler's answer.
 *
 * ```
 * commandInteraction ─► ours? (commandId, docs/platform.md §R5.6: other bots' commands reach us too)
 *        └─► queue (one command at a time, in arrival order) ─► Ack ─► handler ─► Reply(text)
 * ```
 * @packageDocumentation
 */
import type { Bot } from '../../src/bot.js';
import type { CommandInteractionEvent } from '../../src/events/types.js';
import type { CommandOption } from '../../src/rest/types.js';
import { TypedEmitter } from '../../src/util/emitter.js';
import { waitUntil } from './wait.js';

/** A command the sample offers. */
export interface CommandSpec {
  name: string;
  description: string;
  options?: CommandOption[];
}

/** One handled command, as the transcript keeps it. */
export interface CommandExchange {
  interactionId: string;
  name: string;
  userId: string;
  options: Record<string, string | number | bigint | boolean | null>;
  reply: string;
}

/** What a handler gets. */
export interface CommandContext {
  event: CommandInteractionEvent;
  /** Options by name. */
  options: Record<string, string | number | bigint | boolean | null>;
}

/** Events of {@link CommandRouter}. */
export type CommandRouterEvents = {
  /** A command was answered (the reply is posted). */
  handled: [exchange: CommandExchange];
  /** Posting a reply or acking failed; the router keeps going. */
  error: [error: Error];
};

/**
 * Registers `specs` in a space, reusing (and updating) commands of the same name that this bot
 * registered there before: a second Register of one name in one space answers 500 (docs/platform.md §R8.2).
 * @returns commandId → name.
 */
export async function ensureCommands(
  bot: Bot,
  spaceId: string,
  specs: readonly CommandSpec[],
  options: { signal?: AbortSignal | undefined } = {},
): Promise<Map<string, string>> {
  const { commands } = await bot.rest.commands.list({ signal: options.signal });
  const ids = new Map<string, string>();
  for (const spec of specs) {
    const name = spec.name.toLowerCase();
    const existing = commands.find((c) => c.name === name && c.spaceId === spaceId);
    if (existing) {
      await bot.rest.commands.update(
        { commandId: existing.commandId, description: spec.description, options: spec.options ?? [] },
        { signal: options.signal },
      );
      ids.set(existing.commandId, name);
    } else {
      const r = await bot.rest.commands.register(
        { name, description: spec.description, spaceId, options: spec.options ?? [] },
        { signal: options.signal },
      );
      ids.set(r.commandId, name);
    }
  }
  return ids;
}

/** Handles one command; returns the reply text. */
export type CommandHandler = (ctx: CommandContext) => Promise<string> | string;

/**
 * Routes this bot's commands to handlers, serially, and replies in the channel the command came
 * from. Create it after {@link ensureCommands}; {@link CommandRouter.close} detaches it and
 * waits for the command in progress.
 */
export class CommandRouter extends TypedEmitter<CommandRouterEvents> {
  /** Every answered command, in order. */
  readonly transcript: CommandExchange[] = [];
  readonly #bot: Bot;
  readonly #ids: ReadonlyMap<string, string>;
  readonly #handlers: Record<string, CommandHandler>;
  readonly #listener: (e: CommandInteractionEvent) => void;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(bot: Bot, commandIds: ReadonlyMap<string, string>, handlers: Record<string, CommandHandler>) {
    super();
    this.#bot = bot;
    this.#ids = commandIds;
    this.#handlers = handlers;
    this.#listener = (e) => {
      const name = this.#ids.get(e.commandId);
      if (!name || this.#closed) return;
      this.#chain = this.#chain.then(() => this.#handle(name, e));
    };
    bot.on('commandInteraction', this.#listener);
  }

  async #handle(name: string, event: CommandInteractionEvent): Promise<void> {
    if (this.#closed) return;
    const rest = this.#bot.rest;
    // Ack first: it only shows the user a confirmation, and must happen within 60 s (§R8.1).
    await rest.interactions.ack({ interactionId: event.interactionId }).catch((err: Error) => this.#error(err));
    const options: CommandContext['options'] = {};
    for (const o of event.options) options[o.name.toLowerCase()] = o.value;
    let reply: string;
    try {
      const handler = this.#handlers[name];
      reply = handler ? await handler({ event, options }) : `/${name} is not handled here`;
    } catch (err) {
      reply = `/${name} failed: ${(err as Error).message}`;
    }
    try {
      await rest.interactions.reply({ channelId: event.channelId, text: reply });
    } catch (err) {
      this.#error(err as Error);
    }
    const exchange: CommandExchange = {
      interactionId: event.interactionId,
      name,
      userId: event.user.userId,
      options,
      reply,
    };
    this.transcript.push(exchange);
    this.emit('handled', exchange);
  }

  /**
   * Resolves with the exchange of `interactionId` once it was answered.
   * @throws TimeoutError after `timeoutMs` (default 30 s); AbortError when `signal` aborts.
   */
  async waitForReply(
    interactionId: string,
    options: { timeoutMs?: number; signal?: AbortSignal | undefined } = {},
  ): Promise<CommandExchange> {
    const find = () => this.transcript.find((x) => x.interactionId === interactionId);
    await waitUntil(
      (wake) => {
        this.on('handled', wake);
        return () => this.off('handled', wake);
      },
      () => find() !== undefined,
      `the reply to interaction ${interactionId}`,
      options,
    );
    return find()!;
  }

  #error(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /** Stops routing and waits for the command being handled. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#bot.off('commandInteraction', this.#listener);
    await this.#chain.catch(() => undefined);
  }
}
