import { z } from 'zod';
import type { Integration } from '../../config/schema.ts';
import { notificationsSchema } from '../../notify/channels.ts';
import { parseDuration } from '../../config/duration.ts';
import { escalationShape } from './escalation/config.ts';
import { feedShape } from './feed/config.ts';
import { incidentsShape } from './incidents/config.ts';
import { DEFAULT_THRESHOLD } from './match/matcher.ts';

/**
 * A Microsoft 365 support integration (type: 'm365'): the tenant's service health (read through the
 * `microsoft` connection's Graph) kept in the store, and ITSM incidents matched to it.
 */
export const m365Shape = {
  /**
   * How often service health is read. Graph allows this API 240 requests a minute and 800 an hour per
   * app and tenant; a pass is a few page reads, so PT1M is the shortest allowed, PT5M the default.
   */
  healthEvery: z
    .string()
    .refine((v) => (parseDuration(v) ?? 0) >= 60_000, { message: 'must be an ISO 8601 duration of at least PT1M' })
    .default('PT5M'),
  /** Read the message center too (needs ServiceMessage.Read.All). */
  messages: z.boolean().default(true),
  /** A match scores at least this (0–1) to be shown or written. */
  matchThreshold: z.number().min(0).max(1).default(DEFAULT_THRESHOLD),
  /** New and changed ITSM incidents matched as they arrive, with work notes (feed/config.ts). */
  feed: feedShape,
  /** Microsoft Learn, searched for recommended articles (the sandbox serves the same search). */
  learnUrl: z.url().default('https://learn.microsoft.com'),
  /** "This is a test environment": escalations say so, so Microsoft's engineers do not call. */
  testEnvironment: z.boolean().default(false),
  /** Escalation to Microsoft support (escalation/config.ts); off = "Insights only". */
  escalation: escalationShape,
  /** One ITSM incident per health issue (incidents/config.ts); off by default. */
  incidents: incidentsShape,
  /** Where e-mail goes (the same block as pod's): reminders about quiet guided cases, by SMTP. */
  notifications: notificationsSchema.optional(),
};

export type M365Integration = Integration<typeof m365Shape>;
