import type { Ticketloop } from '../../app/build.ts';
import type { PodService } from './service.ts';

/** The running app's request service, set when the module registers (the demo drives requests through it). */
const services = new WeakMap<Ticketloop, PodService>();

export const podService = (app: Ticketloop): PodService | undefined => services.get(app);

export function setPodService(app: Ticketloop, service: PodService): void {
  services.set(app, service);
}
