// rackctl end to end: the real bin in its own process against a real server over the demo cloud
// (with a simulated agent, so VMs reach RUNNING), tables compared with golden files, JSON parsed,
// exit codes per error class, and a 10,000-row host import that writes nothing while a row is bad.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Agent } from "../../src/agent-sdk/index.js";
import { createSimulatedAgent } from "../../src/agent/simulator.js";
import { demoAgentToken, loadDemo } from "../../src/demo.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { golden, rackctlIn } from "../support/rackctl.js";

const dir = mkdtempSync(join(tmpdir(), "rackctl-"));
let t: TestServer;
let agent: Agent;

const rackctl = rackctlIn(dir);

const count = async (sql: string) => (await t.server.db.em().execute<{ n: number }[]>(sql))[0]!.n;

beforeAll(async () => {
  t = await startTestServer();
  await loadDemo(t.server.db);
  agent = createSimulatedAgent({
    servers: [t.url.replace("http://", "")],
    token: await demoAgentToken(t.server.db),
    agentId: "cli-simulator",
    latencyMs: 20,
  });
  agent.start();
  writeFileSync(join(dir, "admin.token"), t.adminToken);
  const login = await rackctl(["login", "--server", t.url, "--token-file", join(dir, "admin.token")]);
  expect(login.stderr).toBe("");
  expect(login.code).toBe(0);
}, 120_000);
afterAll(async () => {
  await agent?.stop({ graceMs: 100 });
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("rackctl", () => {
  it("saves the context 0600 and reads tables, JSON, YAML and names", async () => {
    expect(statSync(join(dir, "config.yaml")).mode & 0o777).toBe(0o600);
    golden("racks-hall-a.txt", (await rackctl(["get", "racks", "--limit", "5"])).stdout);
    golden("hostgroups.txt", (await rackctl(["get", "hostgroups"])).stdout);
    golden("tenants.txt", (await rackctl(["get", "tenants"])).stdout);
    const regions = JSON.parse((await rackctl(["get", "regions", "-o", "json"])).stdout) as { name: string; id: string }[];
    expect(regions.map((r) => r.name).sort()).toEqual(["ap-east", "eu-central"]);
    expect((await rackctl(["get", "regions", regions[0]!.id, "-o", "name"])).stdout).toBe(`regions/${regions[0]!.name}\n`);
    const page = await rackctl(["get", "hosts", "--limit", "1100", "-o", "name"]);
    expect(page.stdout.trim().split("\n")).toHaveLength(1100);
    expect((await rackctl(["get", "specs", "s1.small", "-o", "yaml"])).stdout).toContain("name: s1.small");
  });

  it("exits 2 on usage, 3 on not found, 4 on refusal, 5 when the server is away", async () => {
    expect((await rackctl(["get", "spaceships"])).code).toBe(2);
    expect((await rackctl(["frobnicate"])).code).toBe(2);
    const missing = await rackctl(["get", "racks", "no-such-rack"]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain("NOT_FOUND");
    const duplicate = await rackctl(["create", "region", "eu-central"]);
    expect(duplicate.code).toBe(4);
    expect(duplicate.stderr).toMatch(/error: [A-Z_]+: /);
    expect((await rackctl(["get", "racks"], { RACKPLANE_SERVER: "http://127.0.0.1:1" })).code).toBe(5);
  });

  it("creates, describes, updates and deletes by name within scope", async () => {
    expect((await rackctl(["create", "region", "cli-region"])).code).toBe(0);
    expect((await rackctl(["create", "datacenter", "cli-dc1", "--region", "cli-region", "--city", "Berlin", "--country", "DE"])).code).toBe(
      0,
    );
    expect((await rackctl(["create", "room", "hall-a", "--datacenter", "cli-dc1"])).code).toBe(0);
    expect(
      (await rackctl(["create", "rack", "r01", "--room", "hall-a", "--datacenter", "cli-dc1", "--height", "42", "--asn", "65100"])).stderr,
    ).toBe("");
    // "hall-a" exists in the demo too: the room name alone is ambiguous, the scope settles it.
    expect((await rackctl(["get", "rooms", "hall-a"])).code).toBe(2);
    const rooms = JSON.parse((await rackctl(["get", "rooms", "hall-a", "--datacenter", "cli-dc1", "-o", "json"])).stdout);
    const described = await rackctl(["describe", "rack", "r01", "--room", rooms[0].id]);
    golden("describe-rack.txt", described.stdout.replace(/^ID: .*$/m, "ID:     <id>"));
    const updated = await rackctl([
      "update",
      "rack",
      "r01",
      "--room",
      rooms[0].id,
      "--set",
      "asn=65101",
      "--set",
      "description=row one",
      "-o",
      "json",
    ]);
    expect(JSON.parse(updated.stdout)[0]).toMatchObject({ asn: 65101, description: "row one" });
    expect((await rackctl(["delete", "rack", "r01", "--room", rooms[0].id])).code).toBe(0);
    expect((await rackctl(["get", "racks", "r01", "--room", rooms[0].id])).code).toBe(3);
  });

  it("creates a VM, follows it to RUNNING, stops it with --wait, and shows quota and audit", async () => {
    const created = await rackctl([
      "create",
      "vm",
      "--tenant",
      "payments",
      "--group",
      "general-compute",
      "--spec",
      "s1.small",
      "--image",
      "ubuntu-24.04",
      "--wait",
      "-o",
      "json",
    ]);
    expect(created.stderr).toContain("SUCCEEDED");
    const [vm] = JSON.parse(created.stdout);
    expect(vm.state).toBe("VIRTUAL_MACHINE_STATE_RUNNING");
    const described = await rackctl(["describe", "vm", vm.name, "--tenant", "payments"]);
    expect(described.stdout).toMatch(/Host: +\S+-h\d+/);
    expect(described.stdout).toMatch(/Location: .* \/ rack \S+ U\d+/);
    expect(described.stdout).toContain("Scheduling:");
    expect((await rackctl(["stop", "vm", vm.name, "--tenant", "payments", "--force", "--wait"])).code).toBe(0);
    expect(JSON.parse((await rackctl(["get", "vm", vm.id, "-o", "json"])).stdout)[0].state).toBe("VIRTUAL_MACHINE_STATE_STOPPED");
    const quota = await rackctl(["quota", "payments"]);
    expect(quota.stdout).toMatch(/cpu +\[#*\.*\] 2\/\d+/);
    const audit = await rackctl(["audit", "--limit", "5", "-o", "json"]);
    expect(JSON.parse(audit.stdout).length).toBe(5);
  }, 60_000);

  it("imports 10,000 hosts all or nothing, and the export imports again to the same hosts", async () => {
    await rackctl(["create", "region", "bulk-region"]);
    await rackctl(["create", "datacenter", "bulk-dc", "--region", "bulk-region"]);
    await rackctl(["create", "room", "bulk-room", "--datacenter", "bulk-dc"]);
    const { inventory } = t.clients();
    const { rooms } = await inventory.listRooms({ filter: 'name = "bulk-room"' });
    for (let r = 0; r < 250; r += 25) {
      await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          inventory.createRack({ rack: { name: `b${String(r + i).padStart(3, "0")}`, roomId: rooms[0]!.id, heightUnits: 42 } }),
        ),
      );
    }
    const header =
      "name,serial_number,group,datacenter,room,rack,first_position,height_units,cpu_cores,memory_mib,storage_gib,description\n";
    const rows = Array.from({ length: 10_000 }, (_, i) => {
      const rack = `b${String(Math.floor(i / 40)).padStart(3, "0")}`;
      return `bulk-${i},BULK${i},general-compute,bulk-dc,bulk-room,${rack},${(i % 40) + 1},1,32,131072,1000,"imported, row ${i}"`;
    });
    const good = `${header + rows.join("\n")}\n`;
    const bad = [...rows];
    bad[10] = bad[10]!.replace(",32,", ",lots,");
    bad[5000] = bad[5000]!.replace(",b125,", ",no-such-rack,");
    bad[9998] = bad[9998]!.replace("BULK9998", "BULK3");
    writeFileSync(join(dir, "bad.csv"), `${header + bad.join("\n")}\n`);
    writeFileSync(join(dir, "good.csv"), good);
    const before = await count("select count(*)::int as n from baremetal");

    const rejected = await rackctl(["import", "hosts", join(dir, "bad.csv")]);
    expect(rejected.code).toBe(4);
    expect(rejected.stderr).toContain("line 12: cpu_cores");
    expect(rejected.stderr).toContain("line 5002: rack");
    expect(rejected.stderr).toContain("line 10000: serial_number BULK3 repeats line 5");
    expect(await count("select count(*)::int as n from baremetal")).toBe(before);

    expect((await rackctl(["import", "hosts", join(dir, "good.csv"), "--dry-run"])).stdout).toContain("10000 rows valid");
    expect(await count("select count(*)::int as n from baremetal")).toBe(before);
    const imported = await rackctl(["import", "hosts", join(dir, "good.csv")]);
    expect(imported.stdout).toContain("10000 hosts imported");
    expect(await count("select count(*)::int as n from baremetal where name like 'bulk-%'")).toBe(10_000);

    // Again: the first batch is refused as a whole (ALREADY_EXISTS), nothing more is written, and the resume point is printed.
    const again = await rackctl(["import", "hosts", join(dir, "good.csv"), "--from-line", "9002"]);
    expect(again.code).toBe(4);
    expect(again.stderr).toContain("Resume with --from-line 9002");
    expect(await count("select count(*)::int as n from baremetal where name like 'bulk-%'")).toBe(10_000);

    const exported = await rackctl(["export", "hosts", "--filter", `room_id = "${rooms[0]!.id}"`]);
    expect(exported.stdout.split("\n")[0]).toBe(header.trim());
    writeFileSync(join(dir, "export.csv"), exported.stdout);
    // Into a fresh database with the same layout: the export imports, and exports again identically.
    const fresh = await startTestServer();
    try {
      const env = { RACKPLANE_SERVER: fresh.url, RACKPLANE_TOKEN: fresh.adminToken };
      await rackctl(["create", "region", "bulk-region"], env);
      await rackctl(["create", "datacenter", "bulk-dc", "--region", "bulk-region"], env);
      await rackctl(["create", "room", "bulk-room", "--datacenter", "bulk-dc"], env);
      await rackctl(["create", "hostgroup", "general-compute"], env);
      const room = (await fresh.clients().inventory.listRooms({})).rooms[0]!;
      for (let r = 0; r < 250; r += 25) {
        await Promise.all(
          Array.from({ length: 25 }, (_, i) =>
            fresh
              .clients()
              .inventory.createRack({ rack: { name: `b${String(r + i).padStart(3, "0")}`, roomId: room.id, heightUnits: 42 } }),
          ),
        );
      }
      expect((await rackctl(["import", "hosts", join(dir, "export.csv")], env)).stdout).toContain("10000 hosts imported");
      expect((await rackctl(["export", "hosts"], env)).stdout).toBe(exported.stdout);
    } finally {
      await fresh.close();
    }
  }, 180_000);

  it("follows the audit trail", async () => {
    const child = spawn(process.execPath, ["src/cli/rackctl.mjs", "audit", "--follow", "--limit", "1", "--interval", "0.2"], {
      env: { ...process.env, RACKPLANE_CONFIG: join(dir, "config.yaml") },
    });
    try {
      // The last event is printed first (one write); only what comes after it counts as followed.
      let first: (() => void) | undefined;
      const printedFirst = new Promise<void>((resolve) => {
        first = resolve;
      });
      let output = "";
      let onOutput = () => {};
      child.stdout.on("data", (chunk: Buffer) => {
        if (first) {
          first();
          first = undefined;
          return;
        }
        output += chunk.toString();
        onOutput();
      });
      await printedFirst;
      expect((await rackctl(["create", "region", "followed-region"])).code).toBe(0);
      await new Promise<void>((resolve) => {
        onOutput = () => output.includes("CreateRegion") && resolve();
        onOutput();
      });
      expect(output).toContain("rackplane.v1.InventoryService/CreateRegion");
    } finally {
      child.kill();
    }
  }, 60_000);

  it("prints completion scripts and help with examples", async () => {
    expect((await rackctl(["completion", "bash"])).stdout).toContain("complete -F _rackctl rackctl");
    expect((await rackctl(["completion", "zsh"])).stdout).toContain("#compdef rackctl");
    const help = await rackctl(["import", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Examples:");
  });
});
