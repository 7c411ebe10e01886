import type { DocStore } from '../shared/persist.ts';

export type WebhookAuth =
  | { type: 'hmac'; secret: string }
  | { type: 'basic'; username: string; password: string }
  | { type: 'bearer'; token: string };

export interface WebhookConfig {
  table: string;
  url: string;
  events: ('insert' | 'update' | 'delete')[];
  auth?: WebhookAuth;
}

/** Instance configuration changed through the admin endpoints; persisted with the records. */
export interface SnSettings {
  /** System properties (sys_properties), e.g. glide.invalid_query.returns_no_rows. */
  properties: Record<string, string>;
  /** Table API rate limit rule for all users, requests per hour per user; 0 = no rule. */
  rateLimit: { requestsPerHour: number };
  oauth: { accessTokenTtlSeconds: number; refreshTokenTtlSeconds: number };
  webhooks: WebhookConfig[];
}

const defaults = (): SnSettings => ({
  properties: { 'glide.invalid_query.returns_no_rows': 'false' },
  rateLimit: { requestsPerHour: 0 },
  // 1800 s is the instance default access-token lifespan (§1.8); refresh tokens last 100 days.
  oauth: { accessTokenTtlSeconds: 1800, refreshTokenTtlSeconds: 8_640_000 },
  webhooks: [],
});

export class Settings {
  value: SnSettings;
  constructor(private readonly docs: DocStore) {
    const stored = docs.get<Partial<SnSettings>>('sn_config', 'settings') ?? {};
    this.value = { ...defaults(), ...stored };
  }
  save(): void {
    this.docs.put('sn_config', 'settings', this.value);
  }
  property(name: string): string | undefined {
    return this.value.properties[name];
  }
}
