// The console in a real browser: Debian's chromium driven by playwright-core, against a real server
// with the demo data and a simulated hypervisor. Screenshots of each page go to test-artifacts/
// (git-ignored). Without chromium this test fails, saying how to install it: it never skips.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import type { Agent } from "../../src/agent-sdk/index.js";
import { createSimulatedAgent } from "../../src/agent/simulator.js";
import { demoAgentToken, loadDemo } from "../../src/demo.js";
import { afterResponse, consoleContext, launchChromium, signIn } from "../support/browser.js";
import { startTestServer, type TestServer } from "../support/server.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const artifacts = join(root, "test-artifacts", "console");

let t: TestServer;
let agent: Agent;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  // Without chromium this fails at once, saying how to install it.
  browser = await launchChromium();
  mkdirSync(artifacts, { recursive: true });
  // The console as npm start serves it (a no-op when dist/web is current).
  execFileSync(process.execPath, [join(root, "scripts", "build-web.ts")], { stdio: "inherit" });
  t = await startTestServer(undefined, { consoleDir: join(root, "dist", "web") });
  await loadDemo(t.server.db);
  agent = createSimulatedAgent({
    servers: [t.url.replace("http://", "")],
    token: await demoAgentToken(t.server.db),
    agentId: "browser-test-simulator",
    latencyMs: 200,
    concurrency: 4,
  });
  agent.start();
}, 240_000);

afterAll(async () => {
  if (Object.keys(figures).length > 0) {
    writeFileSync(join(artifacts, "figures.json"), `${JSON.stringify(figures, null, 2)}\n`);
    console.log("console browser figures:", JSON.stringify(figures));
  }
  for (const context of contexts) await context.close();
  await browser?.close();
  await agent?.stop({ graceMs: 1_000 });
  await t?.close();
});

/** Browser figures of this run, written beside the screenshots (figures.json). */
const figures: Record<string, number> = {};

async function signedIn(token: string, width = 1280): Promise<Page> {
  const context = await consoleContext(browser, width);
  contexts.push(context);
  return signIn(context, t.url, token);
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

async function tenantId(name: string): Promise<string> {
  const { tenants } = await t.clients().tenants.listTenants({ filter: `name = "${name}"` });
  return tenants[0]!.id;
}

it("signs in and shows who the caller is; the token stays in the tab", async () => {
  const page = await signedIn(t.adminToken);
  expect(await page.getByTestId("whoami").textContent()).toContain("PLATFORM_ADMIN");
  expect(await page.evaluate(() => sessionStorage.getItem("rackplane.token"))).toBe(t.adminToken);
  expect(await page.evaluate(() => localStorage.length)).toBe(0);
  await shot(page, "01-inventory");
  // Maintainers: a person, then everything they maintain.
  await page.getByRole("link", { name: "Maintainers" }).click();
  await page.getByRole("region", { name: "People" }).getByRole("link").first().click();
  await page.getByRole("heading", { name: /^Maintained by / }).waitFor();
  await page.getByRole("table").waitFor();
  await shot(page, "10-maintained");
}, 60_000);

it("walks regions → datacenters → rooms → racks and opens a rack elevation with its hosts", async () => {
  const page = await signedIn(t.adminToken);
  await page.getByRole("region", { name: "Regions" }).getByRole("link").first().click();
  await page.getByRole("region", { name: "Datacenters" }).getByRole("link").first().click();
  await page.getByRole("region", { name: "Rooms" }).getByRole("link").first().click();
  await page.getByRole("region", { name: "Racks" }).getByRole("link").first().click();
  const elevation = page.getByRole("img", { name: /Front view of rack/ });
  await elevation.waitFor();
  const hosts = elevation.getByRole("link");
  expect(await hosts.count()).toBeGreaterThan(0);
  // Budget 100 ms, measured quietly by `npm run bench -- console`; here, on cores shared with the
  // rest of the suite, a ceiling that still catches a pathological render.
  expect(await page.getByRole("img", { name: /42 units/ }).count()).toBe(1);
  figures.elevationRenderMs = await afterResponse(page, "GetRackElevation", "elevation");
  expect(figures.elevationRenderMs).toBeLessThan(1_000);
  expect(await page.getByText(/^AS\d+$/).count()).toBe(1);
  expect(await page.getByRole("meter", { name: "CPU cores" }).count()).toBe(1);
  await shot(page, "02-rack-elevation");
  // A host opens its detail from the keyboard.
  await hosts.first().focus();
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: /^Host / }).waitFor();
  await shot(page, "03-host");
  // The same rack on a 390 px phone: nothing wider than the screen.
  const phone = await signedIn(t.adminToken, 390);
  await phone.goto(page.url().replace(/\/hosts\/.*/, "/hosts"));
  await phone.getByRole("table").waitFor();
  await expect.poll(() => phone.locator("tbody tr").count()).toBe(50);
  // Budget 150 ms (npm run bench -- console); a ceiling here, as above.
  figures.hostsPageRenderMs = await afterResponse(phone, "ListBaremetals", "rows50");
  expect(figures.hostsPageRenderMs).toBeLessThan(1_500);
  expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await shot(phone, "04-hosts-phone");
}, 60_000);

it("creates a VM and follows its operation live until it is RUNNING", async () => {
  const page = await signedIn(t.adminToken);
  await page.getByRole("link", { name: "VMs" }).click();
  const form = page.getByRole("form", { name: "Create a virtual machine" });
  await form.getByLabel("Tenant", { exact: true }).selectOption({ label: "payments" });
  await expect.poll(() => form.getByLabel("Host group").locator("option").count()).toBeGreaterThan(1);
  await form.getByLabel("Host group").selectOption({ index: 1 });
  await form.getByLabel("Specification").selectOption({ label: "s1.small" });
  await form.getByLabel("Image").selectOption({ label: "ubuntu-24.04" });
  await form.getByRole("button", { name: "Create" }).click();
  await page.getByRole("heading", { name: /^VM payments-/ }).waitFor();
  await page.getByTestId("operation-state").waitFor();
  await expect.poll(() => page.getByTestId("operation-state").textContent(), { timeout: 30_000 }).toBe("SUCCEEDED");
  await expect.poll(() => page.getByTestId("vm-state").textContent(), { timeout: 10_000 }).toBe("RUNNING");
  await page.getByRole("table", { name: "Candidates considered" }).waitFor();
  await shot(page, "05-vm-running");
}, 90_000);

it("an admin lowers a quota with its etag, and the tenant's next VM is refused with the reason", async () => {
  const globex = await tenantId("globex");
  const admin = await signedIn(t.adminToken);
  await admin.goto(`${t.url}/tenants/${globex}`);
  const editor = admin.getByRole("form", { name: /Edit quota in/ }).first();
  await editor.getByLabel("vCPU limit").fill("1");
  await editor.getByRole("button", { name: "Save quota" }).click();
  await expect.poll(() => admin.locator("[data-level]").first().textContent()).toContain("0 / 1 (1 left)");
  await shot(admin, "06-tenant-quotas");

  const tenantAdmin = await signedIn(await t.token(Role.TENANT_ADMIN, "globex-admin", globex));
  await tenantAdmin.getByRole("link", { name: "VMs" }).click();
  const form = tenantAdmin.getByRole("form", { name: "Create a virtual machine" });
  await expect.poll(() => form.getByLabel("Host group").locator("option").count()).toBeGreaterThan(1);
  await form.getByLabel("Host group").selectOption({ index: 1 });
  await form.getByLabel("Specification").selectOption({ label: "s1.small" });
  await form.getByLabel("Image").selectOption({ label: "ubuntu-24.04" });
  await form.getByRole("button", { name: "Create" }).click();
  const alert = form.getByRole("alert");
  await alert.waitFor();
  expect(await alert.textContent()).toMatch(/^QUOTA_EXCEEDED: /);
  await shot(tenantAdmin, "07-quota-refused");
}, 60_000);

it("a tenant member sees only their own tenant", async () => {
  const search = await tenantId("search");
  const payments = await tenantId("payments");
  const member = await signedIn(await t.token(Role.TENANT_MEMBER, "search-dev", search));
  await member.getByRole("link", { name: "Tenants" }).click();
  await member.getByRole("link", { name: "search" }).waitFor();
  expect(await member.getByRole("listitem").allTextContents()).toEqual(["search "]);
  await member.goto(`${t.url}/tenants/${payments}`);
  const alert = member.getByRole("alert");
  await alert.waitFor();
  expect(await alert.textContent()).toMatch(/^[A-Z_]+: /);
  expect(await member.getByText("payments team").count()).toBe(0);
  await shot(member, "08-other-tenant-refused");
  await member.getByRole("link", { name: "Audit" }).click();
  await member.getByRole("table").waitFor();
  await shot(member, "09-audit");
}, 60_000);
