// rackctl: the operators' command line over the generated Connect clients (docs/cli.md). This file
// only declares the commands; each one's code is imported when it runs, so `rackctl get racks` loads
// the clients it needs and nothing of import, describe or completion.
import { Command, CommanderError, Option } from "commander";

const scopeFlags = (command: Command) =>
  command
    .option("--region <region>", "scope names to this region (datacenters)")
    .option("--datacenter <datacenter>", "scope names to this datacenter (rooms)")
    .option("--room <room>", "scope names to this room (racks)")
    .option("--tenant <tenant>", "scope names to this tenant (vms, quotas, clusters)")
    .option("--cluster <cluster>", "scope to this cluster (scalingevents; the cluster named within --tenant)");
const outputFlag = () => new Option("-o, --output <format>", "table, wide, json, yaml or name").default("table");
const examples = (text: string) => `\nExamples:\n${text.replace(/^/gm, "  ")}\n`;

export function program(): Command {
  const root = new Command("rackctl")
    .description("The rackplane command line: inventory, tenants, VMs and operations over the API.")
    .option("--context <name>", "use this context of the config file")
    .option("--server <url>", "server URL (overrides RACKPLANE_SERVER and the context)")
    .option("--token <token>", "bearer token (overrides RACKPLANE_TOKEN and the context)")
    .option("--token-file <file>", "file holding the bearer token")
    .option("--ca-file <file>", "PEM CA bundle for an https server")
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText(
      "after",
      examples(`rackctl login --server http://127.0.0.1:8080 --token-file .rackplane/admin.token
rackctl get racks --room hall-a
rackctl describe vm payments-vm-001 --tenant payments
rackctl create vm --tenant payments --group general --spec s1.small --image ubuntu-24.04 --wait`),
    );
  const run = (load: () => Promise<{ run: (...args: never[]) => Promise<void> }>) =>
    async function (this: Command, ...args: unknown[]) {
      const command = args.at(-1) as Command;
      const options = { ...command.optsWithGlobals() };
      const positional = args.slice(0, -2);
      await (await load()).run(...(positional as never[]), options as never);
    };

  root
    .command("login")
    .description("check --server and --token-file (or --token, --ca-file) and save them as a context, made current")
    .option("--name <context>", "the context's name", "default")
    .addHelpText(
      "after",
      examples("rackctl login --server https://rackplane.example:8443 --token-file ~/admin.token --ca-file ca.pem --name prod"),
    )
    .action(run(() => import("./commands/login.js")));

  scopeFlags(
    root
      .command("get")
      .description("list resources of a kind, or the named ones (names or ids)")
      .argument(
        "<kind>",
        "regions, datacenters, rooms, racks, hosts, hostgroups, tenants, quotas, specifications, images, vms, operations, maintainers, maintainergroups, tokens, agents, auditevents, kubernetesversions, clustertemplates, clusters, scalingevents",
      )
      .argument("[names...]", "names or ids")
      .option("--filter <filter>", "AIP-160 filter, e.g. 'status = RACK_STATUS_ACTIVE AND asn >= 65000'")
      .option("--node-pool <pool>", "scalingevents of this node pool: its id, or its name with --cluster")
      .option("--limit <n>", "at most this many rows (all pages by default)", (v) => Number.parseInt(v, 10))
      .addOption(outputFlag()),
  )
    .addHelpText(
      "after",
      examples(
        `rackctl get racks\nrackctl get racks a01 --room hall-a -o yaml\nrackctl get hosts --filter 'free_cpu >= 16' --limit 20 -o wide\nrackctl get vms --tenant payments -o name\nrackctl get scalingevents --node-pool workers --cluster storefront --tenant web`,
      ),
    )
    .action(run(() => import("./commands/get.js")));

  scopeFlags(
    root
      .command("describe")
      .description(
        "one resource in detail: a VM with its host, rack, cluster, maintainers and scheduling record; a rack as an elevation; a cluster with its pools, health and nodes",
      )
      .argument("<kind>", "a kind, as for get")
      .argument("<name>", "name or id")
      .addOption(outputFlag()),
  )
    .addHelpText(
      "after",
      examples(
        "rackctl describe rack a01 --room hall-a\nrackctl describe vm payments-vm-001 --tenant payments\nrackctl describe cluster storefront --tenant web",
      ),
    )
    .action(run(() => import("./commands/describe.js")));

  scopeFlags(
    root
      .command("create")
      .description("create a resource from a file (-f, the resource in YAML or JSON) and/or flags")
      .argument("<kind>", "a kind, as for get")
      .argument("[name]", "the new resource's name")
      .option("-f, --file <file>", "the resource (YAML or JSON, protobuf JSON names); for vms and tokens, the request")
      .option("--set <field=value...>", "set a field (JSON name, dotted for nested; value parsed as JSON when it can be)")
      .option("--description <text>", "description")
      .option("--height <units>", "rack height in units")
      .option("--asn <asn>", "rack ASN")
      .option("--city <city>", "datacenter city")
      .option("--country <code>", "datacenter country code")
      .option("--group <group>", "host group (vms)")
      .option("--spec <specification>", "VM specification (vms)")
      .option("--image <image>", "image (vms)")
      .option("--wait", "follow the operation to its end")
      .addOption(outputFlag()),
  )
    .addHelpText(
      "after",
      examples(`rackctl create region eu-central
rackctl create datacenter ber1 --region eu-central --city Berlin --country DE
rackctl create room hall-b --datacenter ber1
rackctl create rack b01 --room hall-b --height 42 --asn 65010
rackctl create tenant analytics --description 'data team'
rackctl create vm --tenant payments --group general --spec s1.small --image ubuntu-24.04 --wait
rackctl create hostgroup -f group.yaml`),
    )
    .action(run(() => import("./commands/create.js")));

  scopeFlags(
    root
      .command("update")
      .description("update fields of a resource (the mask is the fields given)")
      .argument("<kind>", "a kind, as for get")
      .argument("<name>", "name or id")
      .option("-f, --file <file>", "the fields to change (YAML or JSON, protobuf JSON names)")
      .option("--set <field=value...>", "set a field (JSON name, dotted for nested)")
      .addOption(outputFlag()),
  )
    .addHelpText(
      "after",
      examples(
        "rackctl update rack a01 --room hall-a --set description='row 1' --set asn=65002\nrackctl update tenant analytics -f tenant.yaml",
      ),
    )
    .action(run(() => import("./commands/update.js")));

  scopeFlags(
    root
      .command("delete")
      .description("delete resources (operations: cancel; tokens: revoke)")
      .argument("<kind>", "a kind, as for get")
      .argument("<names...>", "names or ids")
      .option("--force", "cascade where the kind allows it")
      .option("--wait", "follow the operation to its end (vms)"),
  )
    .addHelpText("after", examples("rackctl delete rack a01 --room hall-a\nrackctl delete vm payments-vm-001 --tenant payments --wait"))
    .action(run(() => import("./commands/delete.js")));

  for (const verb of ["start", "stop", "reboot"] as const) {
    root
      .command(verb)
      .description(`${verb} a VM`)
      .argument("<kind>", "vm")
      .argument("<name>", "name or id")
      .option("--tenant <tenant>", "the tenant whose VM it is (names are unique per tenant)")
      .option("--force", verb === "start" ? "ignored" : "hard power-off / reset instead of a graceful one")
      .option("--wait", "follow the operation to its end; exit non-zero when it fails")
      .addHelpText("after", examples(`rackctl ${verb} vm payments-vm-001 --tenant payments --wait`))
      .action(
        run(async () => ({
          run: (kind: string, name: string, options: never) => import("./commands/power.js").then((m) => m.run(verb, kind, name, options)),
        })),
      );
  }

  root
    .command("wait")
    .description("follow an operation to its end with a progress bar")
    .argument("<operation>", "operation id")
    .addHelpText("after", examples("rackctl wait 0f6c…"))
    .action(run(() => import("./commands/wait.js")));

  root
    .command("quota")
    .description("a tenant's quotas and usage, per host group, as bars")
    .argument("<tenant>", "tenant name or id")
    .addOption(outputFlag())
    .addHelpText("after", examples("rackctl quota payments"))
    .action(run(() => import("./commands/quota.js")));

  root
    .command("audit")
    .description("the audit trail, newest last; --follow keeps printing new events")
    .option("--filter <filter>", "AIP-160 filter, e.g. 'principal = \"alice\"'")
    .option("--limit <n>", "the last n events", (v) => Number.parseInt(v, 10), 20)
    .option("--follow", "keep printing new events until interrupted")
    .option("--interval <seconds>", "poll interval with --follow", (v) => Number.parseFloat(v), 1)
    .addOption(outputFlag())
    .addHelpText("after", examples("rackctl audit --limit 50\nrackctl audit --follow --filter 'result != \"OK\"'"))
    .action(run(() => import("./commands/audit.js")));

  root
    .command("import")
    .description("create hosts from a CSV file, in all-or-none batches (columns: docs/cli.md)")
    .argument("<kind>", "hosts")
    .argument("<file>", "CSV file with a header line")
    .option("--dry-run", "check every row and resolve its names, write nothing")
    .option("--from-line <n>", "start at this line of the file (the resume point a failed run prints)", (v) => Number.parseInt(v, 10))
    .option("--batch-size <n>", "rows per batch, 1 to 1000", (v) => Number.parseInt(v, 10), 1000)
    .addHelpText(
      "after",
      examples("rackctl import hosts hosts.csv --dry-run\nrackctl import hosts hosts.csv\nrackctl import hosts hosts.csv --from-line 3002"),
    )
    .action(run(() => import("./commands/import.js")));

  root
    .command("export")
    .description("write hosts as CSV (re-importable) or YAML to stdout")
    .argument("<kind>", "hosts")
    .option("--format <format>", "csv or yaml", "csv")
    .option("--filter <filter>", "AIP-160 filter over hosts")
    .addHelpText("after", examples("rackctl export hosts > hosts.csv\nrackctl export hosts --format yaml --filter 'status = ACTIVE'"))
    .action(run(() => import("./commands/export.js")));

  root
    .command("completion")
    .description("print a shell completion script")
    .argument("<shell>", "bash or zsh")
    .addHelpText("after", examples("source <(rackctl completion bash)\nrackctl completion zsh > ~/.zsh/completions/_rackctl"))
    .action(async (shell: string, _options: unknown, command: Command) =>
      (await import("./commands/completion.js")).run(shell, command.parent!),
    );

  return root;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await program().parseAsync(argv as string[], { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.exitCode === 0 ? 0 : 2;
    }
    const { describeError, exitCodeOf } = await import("./errors.js");
    process.stderr.write(`${describeError(error)}\n`);
    return exitCodeOf(error);
  }
}

// Exit once stdout and stderr are flushed (a pipe takes big outputs in pieces), without waiting for
// idle keep-alive connections to time out.
const code = await main(process.argv.slice(2));
await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write("", resolve))));
process.exit(code);
