import {
  Badge,
  Card,
  CardHeader,
  makeStyles,
  Table,
  TableBody,
  TableCell,
  TableHeader,
  TableHeaderCell,
  TableRow,
  Text,
  Title3,
  tokens,
} from '@fluentui/react-components';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, call } from '../api/client.ts';
import { Empty, ErrorBar, Loading, PageHeader, Scroll, StatusBadge } from '../components/common.tsx';
import { Sparkline } from '../components/Sparkline.tsx';
import { isQuiet, relative, words } from '../lib/format.ts';

/** Every loop at a glance, from ONE call (GET /api/overview) every 5 s. */

const REFRESH_MS = 5_000;

const useStyles = makeStyles({
  grid: {
    display: 'grid',
    gridTemplateColumns: 'repeat(auto-fill, minmax(280px, 1fr))',
    gap: tokens.spacingHorizontalL,
    marginBottom: tokens.spacingVerticalXL,
  },
  figures: { display: 'flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalXL },
  figure: { display: 'flex', flexDirection: 'column' },
  big: {
    fontSize: tokens.fontSizeHero700,
    fontWeight: tokens.fontWeightSemibold,
    lineHeight: tokens.lineHeightHero700,
  },
  bad: { color: tokens.colorPaletteRedForeground1 },
  statuses: { display: 'flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalS },
  section: { marginTop: tokens.spacingVerticalXL, marginBottom: tokens.spacingVerticalM },
});

function Figure({ label, value, bad }: { label: string; value: number | string; bad?: boolean }) {
  const styles = useStyles();
  return (
    <div className={styles.figure}>
      <span className={`${styles.big} ${bad ? styles.bad : ''}`}>{value}</span>
      <Text size={200}>{label}</Text>
    </div>
  );
}

export default function Overview() {
  const styles = useStyles();
  const overview = useQuery({
    queryKey: ['overview'],
    queryFn: () => call(api.GET('/api/overview')),
    refetchInterval: REFRESH_MS,
  });
  if (overview.isPending) return <Loading label="Loading the overview" />;
  if (overview.error) return <ErrorBar error={overview.error} />;
  const o = overview.data;
  const now = overview.dataUpdatedAt;
  const count = (state: string) => o.jobs.filter((j) => j.state === state).reduce((a, j) => a + j.count, 0);
  const backlog = count('ready') + count('running');
  const dead = count('dead');
  return (
    <>
      <PageHeader title="Overview">
        <Text size={200} aria-live="polite">
          Updated {relative(new Date(now).toISOString(), Date.now())}
        </Text>
      </PageHeader>
      <div className={styles.grid}>
        <Card>
          <CardHeader header={<Title3 as="h2">Jobs</Title3>} />
          <div className={styles.figures}>
            <Figure label="backlog (ready + running)" value={backlog} />
            <Figure label="dead letters" value={dead} bad={dead > 0} />
            <Figure label="failed in the last 24 h" value={o.failures.last24h} bad={o.failures.last24h > 0} />
          </div>
          <Link to="/jobs">Open the job queue</Link>
        </Card>
        <Card>
          <CardHeader header={<Title3 as="h2">Tickets</Title3>} description="tickets changed per hour, last 24 h" />
          <Sparkline values={o.ticketsPerHour} label="Tickets changed" width={240} height={40} />
        </Card>
      </div>

      <Title3 as="h2" className={styles.section}>
        Loops
      </Title3>
      {o.flows.length === 0 ? (
        <Empty>No loop is configured. Add an integration to the configuration file, or run the demo.</Empty>
      ) : (
        <div className={styles.grid}>
          {o.flows.map((f) => (
            <Card key={`${f.flow}/${f.integration}`} data-testid={`loop-${f.flow}-${f.integration}`}>
              <CardHeader
                header={<Title3 as="h3">{`${words(f.flow)} · ${f.integration}`}</Title3>}
                description={`last event ${relative(f.lastEventAt, now)}`}
              />
              <div className={styles.statuses}>
                {Object.keys(f.byStatus).length === 0 ? (
                  <Text>no items yet</Text>
                ) : (
                  Object.entries(f.byStatus).map(([status, n]) => (
                    <span key={status}>
                      <StatusBadge status={status} /> {n}
                    </span>
                  ))
                )}
              </div>
              <Sparkline values={f.itemsPerHour} label={`${f.flow} items received`} />
            </Card>
          ))}
        </div>
      )}

      <Title3 as="h2" className={styles.section}>
        ITSM sync
      </Title3>
      {o.sync.length === 0 ? (
        <Empty>No ITSM connection is watched.</Empty>
      ) : (
        <Scroll label="ITSM sync">
          <Table aria-label="ITSM sync">
            <TableHeader>
              <TableRow>
                <TableHeaderCell>Instance</TableHeaderCell>
                <TableHeaderCell>Last change seen</TableHeaderCell>
                <TableHeaderCell>Through</TableHeaderCell>
                <TableHeaderCell>State</TableHeaderCell>
              </TableRow>
            </TableHeader>
            <TableBody>
              {o.sync.map((s) => (
                <TableRow key={s.instance}>
                  <TableCell>{s.instance}</TableCell>
                  <TableCell>{relative(s.lastSeenAt, now)}</TableCell>
                  <TableCell>{s.source ?? '—'}</TableCell>
                  <TableCell>
                    {isQuiet(s.lastSeenAt, s.stale) ? (
                      <Badge color="danger">quiet too long</Badge>
                    ) : (
                      <Badge color="success">in sync</Badge>
                    )}
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </Scroll>
      )}

      <Title3 as="h2" className={styles.section}>
        Recent failures
      </Title3>
      {o.failures.recent.length === 0 ? (
        <Empty>No dead job. Everything that failed was retried successfully.</Empty>
      ) : (
        <Scroll label="Recent failures">
          <Table aria-label="Recent failures">
            <TableHeader>
              <TableRow>
                <TableHeaderCell>Kind</TableHeaderCell>
                <TableHeaderCell>When</TableHeaderCell>
                <TableHeaderCell>Last error</TableHeaderCell>
              </TableRow>
            </TableHeader>
            <TableBody>
              {o.failures.recent.map((j) => (
                <TableRow key={j.id}>
                  <TableCell>{j.kind}</TableCell>
                  <TableCell>{relative(j.at, now)}</TableCell>
                  <TableCell>{j.lastError ?? '—'}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </Scroll>
      )}
    </>
  );
}
