import { createHash } from 'node:crypto';
import type { Assessment, ArmClient } from '../../connectors/microsoft/arm.ts';
import type { DefenderIntegration, Severity } from './config.ts';
import type { MetadataInfo } from './effects.ts';

/**
 * What a reconcile pass, the manual path and setup's dry run share about assessments: the compact
 * row and item ids, the assessed resource, the metadata cache, and the one rule of whether an
 * assessment should have a ticket under an integration's filters.
 */

const hash = (s: string, n: number) => createHash('sha1').update(s.toLowerCase()).digest('base64url').slice(0, n);

/** Compact stable row key for an assessment's ARM id. */
export const rowId = (assessmentArmId: string) => hash(assessmentArmId, 22);

export function itemIdFor(i: DefenderIntegration, assessmentKey: string, resourceId: string): string {
  const base = `${i.name}:${assessmentKey.toLowerCase()}`;
  return i.grouping === 'recommendation' ? base : `${base}:${hash(resourceId, 12)}`;
}

export function resourceIdOf(a: Assessment): string {
  return a.properties.resourceDetails?.id ?? a.id.replace(/\/providers\/Microsoft\.Security\/assessments\/[^/]+$/i, '');
}

/** Assessment metadata (title, severity, texts), listed once and kept for hours; unknown keys fetched one by one. */
export class MetadataCache {
  private map = new Map<string, MetadataInfo | undefined>();
  private loadedAt = 0;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly arm: () => ArmClient,
    private readonly now: () => number,
    private readonly ttlMs = 6 * 3600_000,
  ) {}

  async prime(): Promise<void> {
    if (this.now() - this.loadedAt < this.ttlMs) return;
    this.loading ??= (async () => {
      const all = await this.arm().getAssessmentMetadata();
      const map = new Map<string, MetadataInfo | undefined>();
      for (const m of all) map.set(m.name.toLowerCase(), info(m.properties));
      this.map = map;
      this.loadedAt = this.now();
    })().finally(() => (this.loading = undefined));
    await this.loading;
  }

  async get(key: string): Promise<MetadataInfo | undefined> {
    const k = key.toLowerCase();
    if (!this.map.has(k)) {
      const m = await this.arm().getAssessmentMetadataByName(key);
      this.map.set(k, m && info(m.properties));
    }
    return this.map.get(k);
  }
}

function info(p: {
  displayName: string;
  severity: Severity;
  description?: string;
  remediationDescription?: string;
}): MetadataInfo {
  return {
    displayName: p.displayName,
    severity: p.severity,
    description: p.description,
    remediation: p.remediationDescription,
  };
}

/**
 * Whether an assessment should have a ticket under this integration's filters, and what it is —
 * the one rule the reconcile pass and setup's dry run share.
 */
export function assessmentJudge(i: DefenderIntegration) {
  const sevOk = (s: Severity) => !i.filters.severities || i.filters.severities.includes(s);
  const recs = i.filters.recommendations && new Set(i.filters.recommendations.map((r) => r.toLowerCase()));
  return (a: Assessment, m: MetadataInfo | undefined): { entry: Entry; unhealthy: boolean } => {
    const severity = m?.severity ?? a.properties.metadata?.severity ?? 'Medium';
    const unhealthy =
      a.properties.status?.code === 'Unhealthy' && sevOk(severity) && (!recs || recs.has(a.name.toLowerCase()));
    const entry = {
      id: rowId(a.id),
      name: a.name,
      resourceId: resourceIdOf(a),
      severity,
      title: m?.displayName ?? a.properties.displayName,
    };
    return { entry, unhealthy };
  };
}

export interface Entry {
  id: string;
  name: string;
  resourceId: string;
  severity: Severity;
  title: string;
}
