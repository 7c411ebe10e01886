import {
  Button,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  Field,
  makeStyles,
  Select,
  Text,
  Textarea,
  tokens,
} from '@fluentui/react-components';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { useSession } from '../../auth/session.tsx';
import { ErrorBar } from '../../components/common.tsx';
import { act, loadCatalog, POD, type Action } from './data.ts';
import { extendChoices, mayCancel, mayDecide, mayExtend, mayRevoke, parseIsoDuration } from './logic.ts';
import type { PodRequest } from './types.ts';
import { useServerNow } from './TimeLeft.tsx';

/**
 * The actions on one request that this user may take (approve, reject, cancel, revoke, extend), each
 * confirmed in a dialog — with a comment for decisions and revokes, and a revoke's caveat spelled out.
 * The API decides; its refusal (self-approval, a policy without self-extension) shows in the dialog.
 */

export type ActionKind = Action['kind'];

const TITLES: Record<ActionKind, { button: string; title: string; confirm: string }> = {
  approve: { button: 'Approve', title: 'Approve this request', confirm: 'Approve' },
  reject: { button: 'Reject', title: 'Reject this request', confirm: 'Reject' },
  cancel: { button: 'Cancel request', title: 'Withdraw this request', confirm: 'Withdraw it' },
  revoke: { button: 'Revoke', title: 'Revoke this grant now', confirm: 'Revoke now' },
  extend: { button: 'Extend', title: 'Extend this grant', confirm: 'Extend' },
};

const useStyles = makeStyles({
  actions: {
    display: 'flex',
    flexWrap: 'wrap',
    gap: tokens.spacingHorizontalS,
    paddingBlock: tokens.spacingVerticalXS,
  },
  caveat: { display: 'block', marginBottom: tokens.spacingVerticalM },
});

export function RequestActions({
  request,
  only,
  onDone,
}: {
  request: PodRequest;
  only?: ActionKind[];
  onDone?(kind: ActionKind, r: PodRequest): void;
}) {
  const styles = useStyles();
  const { me } = useSession();
  const [open, setOpen] = useState<ActionKind>();
  if (!me) return null;
  const may: Record<ActionKind, boolean> = {
    approve: mayDecide(request, me),
    reject: mayDecide(request, me),
    cancel: mayCancel(request, me),
    revoke: mayRevoke(request, me),
    extend: mayExtend(request, me),
  };
  const shown = (Object.keys(TITLES) as ActionKind[]).filter((k) => may[k] && (!only || only.includes(k)));
  if (!shown.length) return null;
  return (
    <div className={styles.actions}>
      {shown.map((k) => (
        <Button key={k} appearance={k === 'approve' ? 'primary' : 'secondary'} onClick={() => setOpen(k)}>
          {TITLES[k].button}
        </Button>
      ))}
      {open && (
        <ActionDialog
          kind={open}
          request={request}
          onClose={() => setOpen(undefined)}
          onDone={(r) => {
            setOpen(undefined);
            onDone?.(open, r);
          }}
        />
      )}
    </div>
  );
}

function ActionDialog(p: { kind: ActionKind; request: PodRequest; onClose(): void; onDone(r: PodRequest): void }) {
  const styles = useStyles();
  const queries = useQueryClient();
  const now = useServerNow();
  const [comment, setComment] = useState('');
  const catalog = useQuery({ queryKey: [...POD, 'catalog'], queryFn: loadCatalog, enabled: p.kind === 'extend' });
  const policy = catalog.data?.permissions.find(
    (x) => x.name === p.request.permission && x.system === p.request.system,
  )?.policy;
  const choices = extendChoices(p.request, policy ? parseIsoDuration(policy.maxDuration) : undefined, now);
  const [duration, setDuration] = useState('');
  const picked = duration || choices[0]?.value || '';
  const describedBy = useId();
  const run = useMutation({
    mutationFn: () =>
      act(
        p.request.id,
        p.kind === 'cancel'
          ? { kind: 'cancel' }
          : p.kind === 'extend'
            ? { kind: 'extend', duration: picked }
            : { kind: p.kind, comment },
      ),
    onSuccess: async (r) => {
      await queries.invalidateQueries({ queryKey: POD });
      p.onDone(r);
    },
  });
  const t = TITLES[p.kind];
  const what = `${p.request.permission} on ${p.request.scope} for ${p.request.identity.id}`;
  return (
    <Dialog open onOpenChange={(_e, d) => !d.open && p.onClose()}>
      <DialogSurface aria-describedby={describedBy}>
        <DialogBody>
          <DialogTitle>{t.title}</DialogTitle>
          <DialogContent>
            <Text block id={describedBy} className={styles.caveat}>
              {what}, asked by {p.request.requester}.
            </Text>
            {p.kind === 'revoke' && (
              <Text block className={styles.caveat}>
                <strong>What a revoke does not end:</strong> {p.request.revokeCaveat}
              </Text>
            )}
            {(p.kind === 'approve' || p.kind === 'reject' || p.kind === 'revoke') && (
              <Field label="Comment" hint={p.kind === 'reject' ? 'the requester sees it' : undefined}>
                <Textarea value={comment} onChange={(_e, d) => setComment(d.value)} maxLength={2000} />
              </Field>
            )}
            {p.kind === 'extend' &&
              (choices.length ? (
                <Field label="Add" hint="the grant may not last longer than its policy allows in all">
                  <Select value={picked} onChange={(_e, d) => setDuration(d.value)}>
                    {choices.map((c) => (
                      <option key={c.value} value={c.value}>
                        {c.label}
                      </option>
                    ))}
                  </Select>
                </Field>
              ) : (
                <Text block>The grant already lasts as long as its policy allows.</Text>
              ))}
            <ErrorBar error={run.error} />
          </DialogContent>
          <DialogActions>
            <Button onClick={p.onClose}>Close</Button>
            <Button
              appearance="primary"
              onClick={() => run.mutate()}
              disabled={run.isPending || (p.kind === 'extend' && !picked)}
            >
              {run.isPending ? 'Working…' : t.confirm}
            </Button>
          </DialogActions>
        </DialogBody>
      </DialogSurface>
    </Dialog>
  );
}
