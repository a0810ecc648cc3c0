// The bearer token lives in sessionStorage: it is kept for this tab only and forgotten when the tab
// closes, never written to localStorage or a cookie.
const key = "rackplane.token";

export function storedToken(): string | null {
  return sessionStorage.getItem(key);
}

export function storeToken(token: string): void {
  sessionStorage.setItem(key, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(key);
}
