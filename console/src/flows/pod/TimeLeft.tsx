import { Text, tokens } from '@fluentui/react-components';
import { useQuery } from '@tanstack/react-query';
import { useNow } from '../../components/useNow.ts';
import { loadClockOffset, POD } from './data.ts';
import { timeLeft } from './logic.ts';
import type { PodRequest } from './types.ts';

const COLOR = {
  overdue: tokens.colorPaletteRedForeground1,
  soon: tokens.colorPaletteDarkOrangeForeground1,
  ok: tokens.colorNeutralForeground1,
  none: tokens.colorNeutralForeground3,
};

/** Now by the server's clock (grants expire by it), ticking every second in the browser. */
export function useServerNow(): number {
  const offset = useQuery({ queryKey: [...POD, 'clock'], queryFn: loadClockOffset, refetchInterval: 30_000 });
  return useNow() + (offset.data ?? 0);
}

/** A grant's countdown, or what is happening instead (ending, nothing active). */
export function TimeLeft({ request }: { request: PodRequest }) {
  const t = timeLeft(request, useServerNow());
  return <Text style={{ color: COLOR[t.tone] }}>{t.text}</Text>;
}
