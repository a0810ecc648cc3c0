// `rackctl start|stop|reboot vm NAME`: the VM's power verbs, with --force and --wait.
import { ComputeService } from "../../../gen/es/rackplane/v1/compute_pb.js";
import type { GlobalOptions } from "../config.js";
import { connect } from "../connection.js";
import { UsageError } from "../errors.js";
import { kindOf, resolveId } from "../resolve.js";
import { follow } from "./wait.js";

interface PowerOptions extends GlobalOptions {
  tenant?: string;
  force?: boolean;
  wait?: boolean;
}

export async function run(verb: "start" | "stop" | "reboot", kindWord: string, name: string, options: PowerOptions): Promise<void> {
  const kind = kindOf(kindWord);
  if (kind.name !== "vms") throw new UsageError(`${verb} applies to vms, not ${kind.name}`);
  const connection = connect(options);
  const id = await resolveId(connection, kind, name, options);
  const compute = connection.client(ComputeService);
  const force = options.force === true;
  const { operation } =
    verb === "start"
      ? await compute.startVirtualMachine({ id })
      : verb === "stop"
        ? await compute.stopVirtualMachine({ id, force })
        : await compute.rebootVirtualMachine({ id });
  if (options.wait && operation) await follow(connection, operation.id);
  process.stdout.write(`vm/${name} ${verb}${options.wait ? " done" : ` requested (operation ${operation?.id})`}\n`);
}
