// Signed out: the sign-in form. Signed in: the caller's identity, the navigation and one page, all
// over a transport that carries the token of this tab.
import { TransportProvider, useQuery } from "@connectrpc/connect-query";
import type { Transport } from "@connectrpc/connect";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { IdentityService, Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import { ErrorNotice } from "./errors";
import { enumName, shortId } from "./format";
import { Caller } from "./identity";
import { Pages } from "./pages/index";
import { Link } from "./router";
import { forgetToken, storedToken, storeToken } from "./session";
import { SignIn } from "./pages/sign-in";
import { consoleTransport } from "./transport";

export function App({ transportFor = consoleTransport }: { transportFor?: (token: string) => Transport }) {
  const [token, setToken] = useState(storedToken);
  const client = useMemo(() => new QueryClient({ defaultOptions: { queries: { retry: false, refetchOnWindowFocus: false } } }), [token]);
  const transport = useMemo(() => (token ? transportFor(token) : undefined), [token, transportFor]);
  if (!token || !transport) {
    return (
      <SignIn
        onSignIn={(value) => {
          storeToken(value);
          setToken(value);
        }}
      />
    );
  }
  const signOut = () => {
    forgetToken();
    setToken(null);
  };
  return (
    <TransportProvider transport={transport}>
      <QueryClientProvider client={client}>
        <Shell onSignOut={signOut} />
      </QueryClientProvider>
    </TransportProvider>
  );
}

function Shell({ onSignOut }: { onSignOut: () => void }) {
  const identity = useQuery(IdentityService.method.getCallerIdentity, {});
  if (identity.error) {
    return (
      <main className="sign-in">
        <ErrorNotice error={identity.error} />
        <button type="button" onClick={onSignOut}>
          Sign in again
        </button>
      </main>
    );
  }
  if (!identity.data) return <p aria-busy="true">Loading…</p>;
  const caller = identity.data;
  return (
    <Caller.Provider value={caller}>
      <header className="top">
        <span className="brand">rackplane</span>
        <nav aria-label="Main">
          <Link to="/inventory">Inventory</Link>
          <Link to="/hosts">Hosts</Link>
          <Link to="/tenants">Tenants</Link>
          <Link to="/vms">VMs</Link>
          <Link to="/kubernetes">Kubernetes</Link>
          <Link to="/maintainers">Maintainers</Link>
          <Link to="/audit">Audit</Link>
        </nav>
        <span className="whoami" data-testid="whoami">
          {caller.principal} · {enumName(Role, caller.role, "ROLE_")}
          {caller.tenantId ? ` · tenant ${shortId(caller.tenantId)}` : ""}
        </span>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main>
        <Pages />
      </main>
    </Caller.Provider>
  );
}
