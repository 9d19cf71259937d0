import { RedisConnection } from 'bullmq';

let patched = false;

/**
 * BullMQ 5 re-emits a connection's failed start-up as an 'error' event from a handler its constructor attaches, and
 * its close() removes every listener first. A connection that is still connecting when the outbox closes (Redis
 * unreachable at shutdown, or reconnecting at that moment) is ended by the close, its start-up fails with the last
 * error it saw, and emitting 'error' with no listener throws: an unhandled rejection per connection, the queue's, the
 * worker's and the worker's blocking one (taskforcesh/bullmq#3546). BullMQ 6 fixes it by emitting only to listeners,
 * but its Worker.close() then waits forever for a Redis that never answered, so we stay on 5 with 6's rule: an error
 * of a connection nobody listens to any more (it was closed) is dropped. Idempotent; every listener-bearing emit is
 * unchanged.
 */
export function dropErrorsOfClosedConnections(): void {
  if (patched) return;
  patched = true;
  const emit = RedisConnection.prototype.emit;
  RedisConnection.prototype.emit = function (this: RedisConnection, event: string | symbol, ...args: unknown[]) {
    if (event === 'error' && this.listenerCount('error') === 0) return false;
    return emit.call(this, event, ...args);
  };
}
