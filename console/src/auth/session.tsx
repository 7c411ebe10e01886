import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import type { Role } from '../../../src/identity/roles.ts';
import { allowed, type Method } from '../lib/access.ts';
import { api, ApiError, call, setCsrfToken, whenSessionEnds } from '../api/client.ts';

/** Who is signed in (GET /api/auth/me), how one signs in here, and what the user may do. */

export interface Me {
  actor: string;
  name: string;
  displayName?: string;
  roles: Role[];
  via: 'session' | 'token';
  csrfToken?: string;
  expiresAt?: string;
}

interface SessionValue {
  me: Me | undefined;
  loading: boolean;
  /** Why the user is at the sign-in page (session expired, signed out). */
  notice: string | undefined;
  /** After a sign-in: read who we are now. */
  signedIn(): Promise<void>;
  signOut(): Promise<void>;
  can(method: Method, path: string): boolean;
}

const SessionContext = createContext<SessionValue | undefined>(undefined);

export function SessionProvider({ children }: { children: ReactNode }) {
  const queries = useQueryClient();
  const [notice, setNotice] = useState<string>();
  const me = useQuery({
    queryKey: ['me'],
    queryFn: async () => {
      try {
        return (await call(api.GET('/api/auth/me'))) as Me;
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) return null;
        throw e;
      }
    },
    staleTime: Infinity,
    retry: false,
  });
  const current = me.data ?? undefined;
  setCsrfToken(current?.csrfToken);

  const forget = useCallback(
    (message: string | undefined) => {
      setCsrfToken(undefined);
      setNotice(message);
      queries.clear();
      queries.setQueryData(['me'], null);
    },
    [queries],
  );
  useEffect(() => {
    whenSessionEnds(() => forget('Your session has ended. Sign in again.'));
    return () => whenSessionEnds(undefined);
  }, [forget]);

  const value = useMemo<SessionValue>(
    () => ({
      me: current,
      loading: me.isPending,
      notice,
      async signedIn() {
        setNotice(undefined);
        await queries.invalidateQueries({ queryKey: ['me'] });
      },
      async signOut() {
        await api.POST('/api/auth/logout');
        forget('You have signed out.');
      },
      can: (method, path) => (current ? allowed(current.roles, method, path) : false),
    }),
    [current, me.isPending, notice, queries, forget],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const v = useContext(SessionContext);
  if (!v) throw new Error('useSession outside SessionProvider');
  return v;
}
