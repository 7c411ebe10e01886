/** Flows whose integrations are created in the console: their pages show before the first exists. */
export const CREATED_HERE = new Set(['defender']);

/** The flows whose pages show, from GET /api/flows: an enabled integration, or one the console can create. */
export function shownFlows(
  flows: readonly { name: string; integrations: readonly { enabled: boolean }[] }[],
): string[] {
  return flows.filter((f) => CREATED_HERE.has(f.name) || f.integrations.some((i) => i.enabled)).map((f) => f.name);
}
