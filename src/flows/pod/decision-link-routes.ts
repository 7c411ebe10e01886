import { z } from 'zod';
import type { Ticketloop } from '../../app/build.ts';
import { HttpProblem } from '../../http/server.ts';
import { LinkRefused, useDecisionLink } from './decision-links.ts';
import { actorOf, answer } from './routes.ts';
import type { PodService } from './service.ts';
import { requestView } from './views.ts';

/**
 * `POST /api/pod/requests/{id}/link` `{token, comment}`: the confirmed use of an approve / reject link
 * from an e-mail (decision-links.ts). The decision is the link's; the caller must be the approver the
 * link was made for, signed in to the console (a session: an API token does not do).
 */

export function registerDecisionLinkRoute(app: Ticketloop, service: PodService): void {
  app.http.post(
    '/api/pod/requests/:id/link',
    {
      config: { role: 'approver' },
      schema: {
        tags: ['pod'],
        summary: 'Approve or reject with a signed one-time link from an e-mail (the link decides which)',
        description:
          'The token is the `#decide=` part of the link. 400 `invalid_link` (altered, another request), ' +
          '403 (the link is another approver’s, or the caller is a token, not a signed-in session), 409 `link_used`, 410 `link_expired`; then the approve / reject rules.',
        params: z.object({ id: z.string().regex(/^[0-9a-f-]{32,36}$/, 'must be a request id') }),
        body: z.object({ token: z.string().min(1).max(2048), comment: z.string().max(2000).default('') }).strict(),
        response: { 200: z.record(z.string(), z.unknown()) },
      },
    },
    async (req) => {
      // "Requires sign-in": the person at the console, not a program holding a token.
      if (req.principal?.via !== 'session')
        throw new HttpProblem(403, 'forbidden', 'a decision link is used signed in to the console, not with a token', [
          { path: 'headers.authorization', message: 'sign in to the console' },
        ]);
      const { actor } = actorOf(req);
      const { id } = req.params;
      try {
        const s = await useDecisionLink(
          app.store.db,
          { keys: app.store.keys, clock: app.clock },
          id,
          req.body.token,
          actor,
          (decision, claim) => answer(() => service.decide(id, actor, decision, req.body.comment, 'ticketloop', claim)),
          await service.entraIdOf(actor),
        );
        return requestView(id, s);
      } catch (e) {
        if (e instanceof LinkRefused)
          throw new HttpProblem(e.status, e.code, e.message, [{ path: 'body.token', message: e.message }]);
        throw e;
      }
    },
  );
}
