import {
  makeStyles,
  Table,
  TableBody,
  TableCell,
  TableHeader,
  TableHeaderCell,
  TableRow,
  tokens,
} from '@fluentui/react-components';
import type { ReactNode } from 'react';

/**
 * A list page's table. From 1280 px down to a tablet it is a table (scrolling sideways inside its
 * region when it must); on a phone each row is a card, each cell a line with its column's name,
 * so nothing is cut off and the page never scrolls sideways.
 */

export interface Column<T> {
  label: string;
  render(row: T): ReactNode;
}

const PHONE = '@media (max-width: 600px)';

const useStyles = makeStyles({
  region: {
    overflowX: 'auto',
    '& table': { minWidth: '720px' },
    [PHONE]: {
      overflowX: 'visible',
      '& table': { minWidth: '0', display: 'block' },
      '& thead': { display: 'none' },
      '& tbody': { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
      '& tr': {
        display: 'block',
        padding: tokens.spacingVerticalS,
        border: `1px solid ${tokens.colorNeutralStroke1}`,
        borderRadius: tokens.borderRadiusMedium,
        backgroundColor: tokens.colorNeutralBackground1,
      },
      '& td': {
        display: 'grid',
        gridTemplateColumns: '8.5em 1fr',
        gap: tokens.spacingHorizontalS,
        height: 'auto',
        minHeight: '28px',
        alignItems: 'center',
        overflowWrap: 'anywhere',
      },
      '& td::before': {
        content: 'attr(data-label)',
        fontWeight: tokens.fontWeightSemibold,
        color: tokens.colorNeutralForeground2,
      },
    },
  },
});

export function DataTable<T>(p: { label: string; columns: Column<T>[]; rows: T[]; rowKey(row: T): string }) {
  const styles = useStyles();
  return (
    <div className={styles.region} role="region" aria-label={p.label} tabIndex={0}>
      <Table aria-label={p.label}>
        <TableHeader>
          <TableRow>
            {p.columns.map((c) => (
              <TableHeaderCell key={c.label}>{c.label}</TableHeaderCell>
            ))}
          </TableRow>
        </TableHeader>
        <TableBody>
          {p.rows.map((r) => (
            <TableRow key={p.rowKey(r)}>
              {p.columns.map((c) => (
                <TableCell key={c.label} data-label={c.label}>
                  {c.render(r)}
                </TableCell>
              ))}
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </div>
  );
}
