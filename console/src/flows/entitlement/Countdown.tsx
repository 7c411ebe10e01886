import { Text, tokens } from '@fluentui/react-components';
import { useNow } from '../../components/useNow.ts';
import { countdown } from '../../lib/format.ts';

const COLOR = {
  overdue: tokens.colorPaletteRedForeground1,
  soon: tokens.colorPaletteDarkOrangeForeground1,
  ok: tokens.colorNeutralForeground1,
  none: tokens.colorNeutralForeground3,
};

/** Time left until the access request's extension times out; only while it still waits. */
export function Deadline({ deadline, waiting }: { deadline: string | null; waiting: boolean }) {
  const now = useNow();
  if (!waiting) return <Text>—</Text>;
  const c = countdown(deadline, now);
  return <Text style={{ color: COLOR[c.tone] }}>{c.text}</Text>;
}

/** Statuses in which the request still waits for its ticket (the extension's deadline runs). */
export const WAITING = new Set(['received', 'ticket_open', 'resuming']);
