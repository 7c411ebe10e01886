import { readFileSync } from 'node:fs';
import type { Ticketloop } from '../../app/build.ts';
import { LearnSearch } from '../../connectors/learn.ts';
import type { M365Integration } from './config.ts';

const learnSearches = new WeakMap<Ticketloop, Map<string, LearnSearch>>();
/** One Learn search (and its cache) per app and URL. */
export function learnOf(app: Ticketloop, i: M365Integration): LearnSearch {
  const byUrl = learnSearches.get(app) ?? new Map<string, LearnSearch>();
  learnSearches.set(app, byUrl);
  let l = byUrl.get(i.learnUrl);
  if (!l) {
    // The microsoft connection's CA (a private one in the sandbox) also serves the sandbox's Learn.
    const caFile = app.config.microsoft?.caFile;
    l = new LearnSearch({
      baseUrl: i.learnUrl,
      ca: caFile ? readFileSync(caFile) : undefined,
      recorder: app.outbound,
      now: () => app.clock.now(),
    });
    byUrl.set(i.learnUrl, l);
  }
  return l;
}
