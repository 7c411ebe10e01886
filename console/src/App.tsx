import { Spinner, Text } from '@fluentui/react-components';
import { useQuery } from '@tanstack/react-query';
import { Navigate, Route, Routes } from 'react-router';
import { api, call } from './api/client.ts';
import { SignIn } from './auth/SignIn.tsx';
import { useSession } from './auth/session.tsx';
import { Shell } from './shell/Shell.tsx';
import { shownFlows } from './lib/flows.ts';
import { visiblePages } from './shell/pages.ts';

/** Signed out: the sign-in page at any address. Signed in: the pages this user may see. */
export function App() {
  const session = useSession();
  const flows = useQuery({
    queryKey: ['flows'],
    queryFn: () => call(api.GET('/api/flows')),
    enabled: !!session.me,
    staleTime: 60_000,
  });
  if (session.loading) return <Spinner label="Loading Ticketloop" style={{ marginTop: '30vh' }} />;
  if (!session.me) return <SignIn />;
  const configured = shownFlows(flows.data?.flows ?? []);
  const pages = visiblePages(configured, session.can);
  // Where an unknown address (or `/` without the overview) goes: the first page this user may see.
  const home = pages.find((p) => !p.hidden && !p.path.includes(':'));
  return (
    <Shell pages={pages}>
      <Routes>
        {pages.map((p) => (
          <Route key={p.path} path={`/${p.path}`} element={<p.component />} />
        ))}
        {/* Until the flows are known a flow page's address waits; after that an unknown one goes to the first page. */}
        <Route
          path="*"
          element={
            flows.isPending ? (
              <Spinner />
            ) : home ? (
              <Navigate to={`/${home.path}`} replace />
            ) : (
              <Text>Your roles give you no page here. Ask an admin for the access you need.</Text>
            )
          }
        />
      </Routes>
    </Shell>
  );
}
