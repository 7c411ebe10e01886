import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../src/engine/clock.ts';

/**
 * Sandbox time: real time plus an offset that tests move through `POST /_sandbox/clock`
 * (`{"advanceMs": 1209600000}`), so a 14-day timeout can be crossed from another process.
 */
export class OffsetClock implements Clock {
  offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export function registerClock(app: FastifyInstance, clock: OffsetClock, onAdvance?: () => void | Promise<void>): void {
  app.get('/_sandbox/clock', async () => ({ now: new Date(clock.now()).toISOString(), offsetMs: clock.offsetMs }));
  app.post('/_sandbox/clock', async (req) => {
    const body = (req.body ?? {}) as { advanceMs?: number };
    if (typeof body.advanceMs === 'number' && body.advanceMs > 0) clock.advance(body.advanceMs);
    await onAdvance?.();
    return { now: new Date(clock.now()).toISOString(), offsetMs: clock.offsetMs };
  });
}
