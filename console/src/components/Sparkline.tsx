import { tokens } from '@fluentui/react-components';
import { sparklinePoints } from '../lib/format.ts';

/** A tiny line chart of a series (oldest first), labelled for screen readers with its total. */
export function Sparkline({
  values,
  label,
  width = 120,
  height = 28,
}: {
  values: number[];
  label: string;
  width?: number;
  height?: number;
}) {
  const total = values.reduce((a, b) => a + b, 0);
  return (
    <svg
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={`${label}: ${total} in the last 24 hours`}
    >
      <polyline
        points={sparklinePoints(values, width, height)}
        fill="none"
        stroke={tokens.colorBrandForeground1}
        strokeWidth={1.5}
        strokeLinejoin="round"
      />
    </svg>
  );
}
