/**
 * Flows whose pages show as soon as the instance runs the flow, before (or without) an enabled
 * integration: Defender's integrations are created in the console; permissions on demand's pages
 * are where people ask and approve, and say so plainly when nothing can be requested yet.
 */
export const ALWAYS_SHOWN = new Set(['defender', 'pod']);

/** The flows whose pages show, from GET /api/flows: an enabled integration, or one of ALWAYS_SHOWN. */
export function shownFlows(
  flows: readonly { name: string; integrations: readonly { enabled: boolean }[] }[],
): string[] {
  return flows.filter((f) => ALWAYS_SHOWN.has(f.name) || f.integrations.some((i) => i.enabled)).map((f) => f.name);
}
