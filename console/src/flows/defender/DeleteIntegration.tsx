import {
  Button,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  DialogTrigger,
} from '@fluentui/react-components';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { api, call } from '../../api/client.ts';
import { ErrorBar, Loading } from '../../components/common.tsx';
import { cascadeSentences } from './logic.ts';

/** Delete, after spelling out what the API's DELETE does to this integration's tickets and assignments. */
export function DeleteIntegration({ name }: { name: string }) {
  const [open, setOpen] = useState(false);
  const navigate = useNavigate();
  const queries = useQueryClient();
  const path = { path: { name } };
  const cascade = useQuery({
    queryKey: ['defender-cascade', name],
    queryFn: () => call(api.GET('/api/defender/integrations/{name}/cascade', { params: path })),
    enabled: open,
  });
  const remove = useMutation({
    mutationFn: () => call(api.DELETE('/api/defender/integrations/{name}', { params: path })),
    onSuccess: async () => {
      await queries.invalidateQueries({ queryKey: ['defender-integrations'] });
      navigate('/defender', { state: { deleted: name } });
    },
  });
  return (
    <Dialog open={open} onOpenChange={(_e, d) => setOpen(d.open)}>
      <DialogTrigger disableButtonEnhancement>
        <Button>Delete…</Button>
      </DialogTrigger>
      <DialogSurface aria-describedby="cascade">
        <DialogBody>
          <DialogTitle>Delete {name}?</DialogTitle>
          <DialogContent id="cascade">
            {cascade.isPending ? (
              <Loading label="Counting what the deletion touches" />
            ) : cascade.error ? (
              <ErrorBar error={cascade.error} />
            ) : (
              <ul aria-label="What deleting does">
                {cascadeSentences(cascade.data).map((s) => (
                  <li key={s}>{s}</li>
                ))}
              </ul>
            )}
            <ErrorBar error={remove.error} />
          </DialogContent>
          <DialogActions>
            <DialogTrigger disableButtonEnhancement>
              <Button>Keep it</Button>
            </DialogTrigger>
            <Button appearance="primary" onClick={() => remove.mutate()} disabled={!cascade.data || remove.isPending}>
              {remove.isPending ? 'Deleting…' : `Delete ${name}`}
            </Button>
          </DialogActions>
        </DialogBody>
      </DialogSurface>
    </Dialog>
  );
}
