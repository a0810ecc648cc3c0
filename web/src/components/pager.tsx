// Server-side paging with the API's opaque page tokens: a stack of the tokens that opened each page,
// so Previous goes back and Next follows next_page_token (empty at the end).
import { useState } from "react";

export function usePager() {
  const [tokens, setTokens] = useState<string[]>([""]);
  return {
    pageToken: tokens[tokens.length - 1]!,
    page: tokens.length,
    next: (token: string) => setTokens((stack) => [...stack, token]),
    previous: () => setTokens((stack) => (stack.length > 1 ? stack.slice(0, -1) : stack)),
    reset: () => setTokens([""]),
  };
}

export function PagerControls({ pager, nextPageToken }: { pager: ReturnType<typeof usePager>; nextPageToken: string | undefined }) {
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" onClick={pager.previous} disabled={pager.page === 1}>
        Previous
      </button>
      <span>Page {pager.page}</span>
      <button type="button" onClick={() => nextPageToken && pager.next(nextPageToken)} disabled={!nextPageToken}>
        Next
      </button>
    </nav>
  );
}
