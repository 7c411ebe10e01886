import {
  Badge,
  Button,
  makeStyles,
  MessageBar,
  MessageBarBody,
  Spinner,
  Text,
  Title2,
  tokens,
  type BadgeProps,
} from '@fluentui/react-components';
import type { ReactNode } from 'react';
import { ApiError } from '../api/client.ts';
import { words } from '../lib/format.ts';

/** Small pieces every page uses: a header, loading and error states, empty states, paging, badges. */

const useStyles = makeStyles({
  header: {
    display: 'flex',
    flexWrap: 'wrap',
    alignItems: 'center',
    justifyContent: 'space-between',
    gap: tokens.spacingHorizontalM,
    marginBottom: tokens.spacingVerticalL,
  },
  actions: { display: 'flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalS },
  empty: {
    padding: tokens.spacingVerticalXXL,
    textAlign: 'center',
    color: tokens.colorNeutralForeground2,
    border: `1px dashed ${tokens.colorNeutralStroke1}`,
    borderRadius: tokens.borderRadiusMedium,
  },
  pager: { display: 'flex', alignItems: 'center', gap: tokens.spacingHorizontalM, marginTop: tokens.spacingVerticalM },
  // Tables keep readable columns on a phone and scroll sideways inside their region.
  scroll: { overflowX: 'auto', '& table': { minWidth: '720px' } },
  filters: {
    display: 'flex',
    flexWrap: 'wrap',
    alignItems: 'end',
    gap: tokens.spacingHorizontalM,
    marginBottom: tokens.spacingVerticalM,
  },
});

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  const styles = useStyles();
  return (
    <div className={styles.header}>
      <Title2 as="h1">{title}</Title2>
      {children && <div className={styles.actions}>{children}</div>}
    </div>
  );
}

/** Filters above a table; wraps on narrow screens. */
export function Filters({ children }: { children: ReactNode }) {
  return (
    <div className={useStyles().filters} role="search">
      {children}
    </div>
  );
}

/** A wide table scrolls sideways inside the page on a phone instead of widening the page. */
export function Scroll({ children, label }: { children: ReactNode; label: string }) {
  return (
    <div className={useStyles().scroll} role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

export function Loading({ label = 'Loading' }: { label?: string }) {
  return <Spinner label={label} />;
}

export function ErrorBar({ error }: { error: unknown }) {
  if (!error) return null;
  const text = error instanceof ApiError ? error.message : String((error as Error).message ?? error);
  return (
    <MessageBar intent="error" role="alert">
      <MessageBarBody>{text}</MessageBarBody>
    </MessageBar>
  );
}

export function Notice({
  intent = 'success',
  children,
}: {
  intent?: 'success' | 'info' | 'warning';
  children: ReactNode;
}) {
  return (
    <MessageBar intent={intent} role="status">
      <MessageBarBody>{children}</MessageBarBody>
    </MessageBar>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className={useStyles().empty}>{children}</div>;
}

/** Previous / next over offset paging; `total` when the API counts, else `more` (a full page came back). */
export function Pager(p: { offset: number; limit: number; shown: number; total?: number; onOffset(o: number): void }) {
  const styles = useStyles();
  const more = p.total !== undefined ? p.offset + p.shown < p.total : p.shown === p.limit;
  if (p.offset === 0 && !more) return null;
  return (
    <nav className={styles.pager} aria-label="Pages">
      <Button disabled={p.offset === 0} onClick={() => p.onOffset(Math.max(0, p.offset - p.limit))}>
        Previous
      </Button>
      <Text>
        {p.shown ? `${p.offset + 1}–${p.offset + p.shown}` : 'none'}
        {p.total !== undefined ? ` of ${p.total}` : ''}
      </Text>
      <Button disabled={!more} onClick={() => p.onOffset(p.offset + p.limit)}>
        Next
      </Button>
    </nav>
  );
}

const TONE: Record<string, BadgeProps['color']> = {
  dead: 'danger',
  failed: 'danger',
  expired: 'warning',
  denied: 'warning',
  running: 'brand',
  resuming: 'brand',
  ticket_open: 'informative',
  received: 'informative',
  ready: 'informative',
  done: 'success',
  resumed: 'success',
  closed: 'subtle',
  // Permissions on demand.
  submitted: 'informative',
  approved: 'brand',
  granting: 'brand',
  granted: 'success',
  revoking: 'brand',
  rejected: 'warning',
  canceled: 'subtle',
  revoked: 'subtle',
  grant_failed: 'danger',
  revoke_failed: 'danger',
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <Badge appearance="tint" color={TONE[status] ?? 'informative'}>
      {words(status)}
    </Badge>
  );
}

/** A link to the ticket in the ITSM, opening in a new tab. */
export function TicketLink({ ticket }: { ticket: { key: string; link: string } | null | undefined }) {
  if (!ticket) return <Text>—</Text>;
  return (
    <a href={ticket.link} target="_blank" rel="noreferrer noopener">
      {ticket.key}
    </a>
  );
}
