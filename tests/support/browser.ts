// Debian's chromium driven by playwright-core, for the console's browser tests and its benchmark:
// launch (failing with how to install it when missing), sign in, and time a render after its response.
import { existsSync } from "node:fs";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

export const chromiumPath = process.env.RACKPLANE_CHROMIUM ?? "/usr/bin/chromium";

export function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `chromium is missing at ${chromiumPath}: install it with 'apt-get install -y chromium' (.ci/run does), or set RACKPLANE_CHROMIUM`,
    );
  }
  return chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
}

/** What is timed: when a rack elevation, and when a page of 50 table rows, is first in the DOM. */
const marks = [
  { selector: "svg.elevation", count: 1, name: "elevation" },
  { selector: "tbody tr", count: 50, name: "rows50" },
] as const;

/** Runs in the page before its own scripts: notes when each mark's elements appear. */
const markAppearance = ({ selector, count, name }: { selector: string; count: number; name: string }) => {
  const holder = window as unknown as { __marks?: Record<string, number> };
  holder.__marks ??= {};
  const seen = holder.__marks;
  const observer = new MutationObserver(() => {
    if (seen[name] === undefined && document.querySelectorAll(selector).length >= count) seen[name] = performance.now();
  });
  observer.observe(document, { subtree: true, childList: true });
};

/** A context whose pages note the marks above. */
export async function consoleContext(browser: Browser, width = 1280): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  for (const mark of marks) await context.addInitScript(markAppearance, mark);
  return context;
}

/** Opens the console at `url` and signs in with `token`. */
export async function signIn(context: BrowserContext, url: string, token: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(url);
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("whoami").waitFor();
  return page;
}

/** Milliseconds from the end of the page's last `rpc` response to the mark `name`. */
export function afterResponse(page: Page, rpc: string, name: (typeof marks)[number]["name"]): Promise<number> {
  return page.evaluate(
    ([rpc, name]) => {
      const response = performance
        .getEntriesByType("resource")
        .filter((entry) => entry.name.endsWith(`/${rpc}`))
        .at(-1) as PerformanceResourceTiming;
      return (window as unknown as { __marks: Record<string, number> }).__marks[name]! - response.responseEnd;
    },
    [rpc, name] as const,
  );
}
