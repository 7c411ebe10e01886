import { Text } from '@fluentui/react-components';
import { Link } from 'react-router';
import type { Column } from '../../components/DataTable.tsx';
import { StatusBadge } from '../../components/common.tsx';
import { dateTime } from '../../lib/format.ts';
import { identityText, spokenDuration } from './logic.ts';
import { RequestActions, type ActionKind } from './RequestActions.tsx';
import { TimeLeft } from './TimeLeft.tsx';
import type { PodRequest } from './types.ts';

/** The columns the request lists share (my requests, the inbox, active grants). */

export const requestColumns = {
  permission: {
    label: 'Permission',
    render: (r) => (
      <>
        <Link to={`/pod/requests/${r.id}`}>{r.permission}</Link>
        <Text block size={200}>
          {r.system}
        </Text>
      </>
    ),
  },
  scope: { label: 'Scope', render: (r) => <Text size={200}>{r.scope}</Text> },
  identity: { label: 'For', render: (r) => <Text size={200}>{identityText(r.identity)}</Text> },
  requester: { label: 'Asked by', render: (r) => r.requester },
  status: { label: 'Status', render: (r) => <StatusBadge status={r.status} /> },
  duration: { label: 'Duration', render: (r) => spokenDuration(r.duration) },
  timeLeft: { label: 'Time left', render: (r) => <TimeLeft request={r} /> },
  submitted: { label: 'Asked', render: (r) => dateTime(r.submittedAt) },
  granted: { label: 'Granted', render: (r) => dateTime(r.grant?.grantedAt) },
  justification: {
    label: 'Why',
    render: (r) => (
      <>
        <Text block>{r.justification || '—'}</Text>
        {r.ticketNumber && <Text size={200}>{r.ticketNumber}</Text>}
      </>
    ),
  },
} satisfies Record<string, Column<PodRequest>>;

/** The actions column: the buttons this user may press on the row's request. */
export function actionsColumn(only?: ActionKind[]): Column<PodRequest> {
  return { label: 'Actions', render: (r) => <RequestActions request={r} only={only} /> };
}
