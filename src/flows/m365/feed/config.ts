import { z } from 'zod';
import { parseDuration } from '../../../config/duration.ts';

/**
 * The incident feed of an m365 integration: how often the ITSM's new and changed incidents are read
 * and matched to the stored health issues, and how far back the first pass reads.
 */

const duration = (min: number, label: string) =>
  z
    .string()
    .refine((v) => (parseDuration(v) ?? 0) >= min, { message: `must be an ISO 8601 duration of at least ${label}` });

export const feedShape = z
  .object({
    /** Off by default: when on, matched incidents get work notes (and parent links). */
    enabled: z.boolean().default(false),
    every: duration(60_000, 'PT1M').default('PT1M'),
    /** The first pass (no watermark yet) reads incidents changed this long ago at most. */
    lookBack: duration(60_000, 'PT1M').default('P1D'),
  })
  .strict()
  .default({ enabled: false, every: 'PT1M', lookBack: 'P1D' });

export type FeedConfig = z.infer<typeof feedShape>;
