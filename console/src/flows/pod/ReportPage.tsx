import { Card, Field, Input, makeStyles, Text, tokens } from '@fluentui/react-components';
import { useState } from 'react';
import { PageHeader } from '../../components/common.tsx';
import { useServerNow } from './TimeLeft.tsx';
import { dateInput, reportHref } from './logic.ts';

/**
 * The access report for auditors: who had which permission on which scope, from when to when, who
 * approved, the ticket — every grant that was active on some day from the first to the last (CSV).
 */

const useStyles = makeStyles({
  card: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM, maxWidth: '560px' },
  row: { display: 'flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalL, '& > *': { flexGrow: 1 } },
});

export default function ReportPage() {
  const styles = useStyles();
  const now = useServerNow();
  const [from, setFrom] = useState<string>();
  const [to, setTo] = useState<string>();
  const range = { from: from ?? dateInput(now - 30 * 86_400_000), to: to ?? dateInput(now) };
  const report = reportHref(range.from, range.to);
  const problem = 'problem' in report ? report : undefined;
  const field = (k: 'from' | 'to', label: string, set: (v: string) => void) => (
    <Field
      label={label}
      validationState={problem?.field === k ? 'error' : 'none'}
      validationMessage={problem?.field === k ? problem.problem : undefined}
    >
      <Input type="date" value={range[k]} onChange={(_e, d) => set(d.value)} />
    </Field>
  );
  return (
    <>
      <PageHeader title="Access report" />
      <Card className={styles.card}>
        <Text>Every grant active on at least one of these days (both included), as CSV.</Text>
        <div className={styles.row}>
          {field('from', 'First day', setFrom)}
          {field('to', 'Last day', setTo)}
        </div>
        <div>
          {'href' in report ? (
            <a href={report.href} download>
              Download the report (CSV)
            </a>
          ) : (
            <Text>Pick the days to download the report.</Text>
          )}
        </div>
      </Card>
    </>
  );
}
