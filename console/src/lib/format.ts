/** Times and numbers as the console shows them; pure, so they are tested without a browser. */

const UNITS: [number, string][] = [
  [86_400_000, 'd'],
  [3_600_000, 'h'],
  [60_000, 'min'],
  [1_000, 's'],
];

/** `3 h 5 min`: the two largest units of a duration (≥ 0). */
export function duration(ms: number): string {
  let rest = Math.max(0, Math.floor(ms));
  if (rest < 1000) return '0 s';
  const parts: string[] = [];
  for (const [size, unit] of UNITS) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)} ${unit}`);
      rest %= size;
    } else if (parts.length) break;
  }
  return parts.join(' ');
}

/** `5 min ago` / `in 2 h` relative to now; `—` for nothing. */
export function relative(iso: string | null | undefined, now: number): string {
  if (!iso) return '—';
  const delta = Date.parse(iso) - now;
  if (Number.isNaN(delta)) return '—';
  if (Math.abs(delta) < 1000) return 'just now';
  return delta < 0 ? `${duration(-delta)} ago` : `in ${duration(delta)}`;
}

export interface Countdown {
  text: string;
  /** overdue: past; soon: within a day; ok: later; none: no deadline. */
  tone: 'overdue' | 'soon' | 'ok' | 'none';
}

/** What is left until a deadline. */
export function countdown(deadline: string | null | undefined, now: number): Countdown {
  if (!deadline) return { text: 'no deadline', tone: 'none' };
  const left = Date.parse(deadline) - now;
  if (left <= 0) return { text: `overdue by ${duration(-left)}`, tone: 'overdue' };
  return { text: `${duration(left)} left`, tone: left < 86_400_000 ? 'soon' : 'ok' };
}

/** `2026-12-02 14:05` in the viewer's time zone. */
export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Words for a status key: `ticket_open` → `ticket open`. */
export const words = (key: string): string => key.replace(/[_-]+/g, ' ');

/** A sync that has seen nothing for this long is shown in red (the server marks it `stale`, too). */
export function isQuiet(lastSeenAt: string | undefined, stale: boolean): boolean {
  return stale || !lastSeenAt;
}

/** SVG polyline points for a sparkline of `values` in a width × height box (flat line when all equal). */
export function sparklinePoints(values: readonly number[], width: number, height: number): string {
  if (values.length === 0) return '';
  const max = Math.max(...values, 1);
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  return values
    .map((v, i) => `${(i * step).toFixed(1)},${(height - 1 - (v / max) * (height - 2)).toFixed(1)}`)
    .join(' ');
}
