import type { ComponentType, LazyExoticComponent } from 'react';
import type { Method } from '../lib/access.ts';

/** A page of the console: its route, its title in the navigation, and the call it cannot work without. */
export interface ConsolePage {
  /** Route path under `/`, without the leading slash. */
  path: string;
  title: string;
  /** Shown only to users who may make this call (the API's own role table). */
  need: [Method, string];
  component: LazyExoticComponent<ComponentType>;
  /** Not in the navigation (a detail page reached by a link). */
  hidden?: boolean;
  group?: 'Settings';
}
