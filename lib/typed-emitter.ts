/**
 * A small synchronous event emitter with typed events and any number of listeners. The collector
 * tells alert changes through one (RunningCollector.alerts): the log, the notifiers and whoever
 * embeds the collector (the demo) each subscribe, none of them by overwriting another's slot.
 * Listeners run in the order they subscribed, synchronously, and an exception from one reaches the
 * emitter's caller, as a direct call would.
 */
export type EventMap = Record<string, readonly unknown[]>;

export class TypedEmitter<E extends EventMap> {
  private readonly listeners: { [K in keyof E]?: ((...args: E[K]) => void)[] } = {};

  /** Subscribes `listener` to `event`; returns the function that unsubscribes it. */
  on<K extends keyof E>(event: K, listener: (...args: E[K]) => void): () => void {
    const list = (this.listeners[event] ??= []);
    list.push(listener);
    return () => {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
    };
  }

  emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const list = this.listeners[event];
    if (!list) return;
    // A copy: a listener that unsubscribes (itself or another) does not shift this round.
    for (const listener of [...list]) listener(...args);
  }
}
