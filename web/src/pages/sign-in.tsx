// Sign-in by API token: kept in sessionStorage for this tab only.
import { type FormEvent, useState } from "react";

export function SignIn({ onSignIn }: { onSignIn: (token: string) => void }) {
  const [token, setToken] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (token.trim()) onSignIn(token.trim());
  };
  return (
    <main className="sign-in">
      <h1>rackplane console</h1>
      <form onSubmit={submit}>
        <label htmlFor="token">API token</label>
        <input id="token" type="password" autoComplete="off" value={token} onChange={(event) => setToken(event.target.value)} required />
        <button type="submit">Sign in</button>
      </form>
      <p className="hint">
        The token is kept for this browser tab only. A platform admin's first token is in the data directory (admin.token).
      </p>
    </main>
  );
}
