import {
  Button,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  Field,
  Text,
  Textarea,
} from '@fluentui/react-components';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { useLocation, useNavigate } from 'react-router';
import { useSession } from '../../auth/session.tsx';
import { ErrorBar, Notice } from '../../components/common.tsx';
import { decideByLink, POD } from './data.ts';
import type { PodRequest } from './types.ts';

/**
 * An e-mail's Approve / Reject link opens the request page with `#decide=<token>`. Opening it decides
 * nothing: this dialog asks "Approve request …?" with a comment, and only the confirmation posts the
 * token (POST /api/pod/requests/{id}/link), which the server checks — signature, expiry, that it is
 * this approver's, that it was not used. Its refusal (used, expired, altered) shows here.
 */

interface LinkClaims {
  act: string;
  actor: string;
}

/** The token's claims as the link says them (shown only: the server verifies the signature). */
function claimsOf(token: string): LinkClaims | undefined {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const c = JSON.parse(atob(part)) as Partial<LinkClaims>;
    return typeof c.act === 'string' && typeof c.actor === 'string' ? { act: c.act, actor: c.actor } : undefined;
  } catch {
    return undefined;
  }
}

export function decisionToken(hash: string): string | undefined {
  const m = /^#decide=([A-Za-z0-9_.-]+)$/.exec(hash);
  return m?.[1];
}

export function DecisionLinkDialog(p: { request: PodRequest; onDone(message: string): void }) {
  const { me } = useSession();
  const location = useLocation();
  const navigate = useNavigate();
  const queries = useQueryClient();
  const [comment, setComment] = useState('');
  const describedBy = useId();
  const token = decisionToken(location.hash);
  // Leave the token out of the address once handled (it would be used again on a reload).
  const close = () => navigate({ pathname: location.pathname, search: location.search }, { replace: true });
  const run = useMutation({
    mutationFn: () => decideByLink(p.request.id, token!, comment),
    onSuccess: async (r) => {
      await queries.invalidateQueries({ queryKey: POD });
      close();
      p.onDone(`Done: the request is now ${r.status}.`);
    },
  });
  if (!token || !me) return null;
  const claims = claimsOf(token);
  const verb = claims?.act === 'reject' ? 'Reject' : 'Approve';
  // A link for an approver group's member names their Entra account: the server checks it, and the membership.
  const byGroup = !!claims?.actor.startsWith('entra:');
  const someoneElse = claims && !byGroup && claims.actor !== me.actor;
  const r = p.request;
  return (
    <Dialog open onOpenChange={(_e, d) => !d.open && close()}>
      <DialogSurface aria-describedby={describedBy}>
        <DialogBody>
          <DialogTitle>
            {verb} request {r.id}?
          </DialogTitle>
          <DialogContent>
            <Text block id={describedBy}>
              {r.permission} on {r.scope} for {r.identity.id}, asked by {r.requester}.
            </Text>
            {!claims ? (
              <Notice intent="warning">This link is not a decision link (it may have been cut short).</Notice>
            ) : someoneElse ? (
              <Notice intent="warning">
                This link was made for {claims.actor.replace(/^user:/, '')}; you are signed in as {me.name}. Sign in as{' '}
                {claims.actor.replace(/^user:/, '')} to use it.
              </Notice>
            ) : (
              <>
                {byGroup && (
                  <Notice intent="info">
                    This link is for a member of an approver group: confirming checks that you are signed in with that
                    Entra ID account and are still a member.
                  </Notice>
                )}
                <Field label="Comment" hint={verb === 'Reject' ? 'the requester sees it' : undefined}>
                  <Textarea value={comment} onChange={(_e, d) => setComment(d.value)} maxLength={2000} />
                </Field>
              </>
            )}
            <ErrorBar error={run.error} />
          </DialogContent>
          <DialogActions>
            <Button onClick={close}>Close</Button>
            {claims && !someoneElse && (
              <Button appearance="primary" onClick={() => run.mutate()} disabled={run.isPending}>
                {run.isPending ? 'Working…' : verb}
              </Button>
            )}
          </DialogActions>
        </DialogBody>
      </DialogSurface>
    </Dialog>
  );
}
