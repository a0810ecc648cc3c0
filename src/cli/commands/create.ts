// `rackctl create KIND [NAME]`: the resource from -f and flags; VMs and tokens take their request.
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { CreateVirtualMachineRequestSchema } from "../../../gen/es/rackplane/v1/compute_pb.js";
import { CreateTokenRequestSchema } from "../../../gen/es/rackplane/v1/identity_pb.js";
import type { GlobalOptions } from "../config.js";
import { connect, type Connection } from "../connection.js";
import { applySets, readResourceFile, type JsonObject } from "../fields.js";
import { formatOf, printRows } from "../output.js";
import { call, kindOf, resolveId } from "../resolve.js";
import { follow } from "./wait.js";

interface CreateOptions extends GlobalOptions {
  file?: string;
  set?: string[];
  description?: string;
  height?: string;
  asn?: string;
  city?: string;
  country?: string;
  region?: string;
  datacenter?: string;
  room?: string;
  tenant?: string;
  group?: string;
  spec?: string;
  image?: string;
  wait?: boolean;
  output?: string;
}

/** Scope flags name a parent: its id goes into the resource's `<parent>Id` field. */
const parents = [
  ["region", "regions", "regionId"],
  ["datacenter", "datacenters", "datacenterId"],
  ["room", "rooms", "roomId"],
  ["tenant", "tenants", "tenantId"],
] as const;

async function fromFlags(connection: Connection, name: string | undefined, options: CreateOptions): Promise<JsonObject> {
  const json = readResourceFile(options.file);
  if (name) json.name = name;
  if (options.description !== undefined) json.description = options.description;
  for (const [flag, kind, field] of parents) {
    const value = options[flag];
    if (value) json[field] = await resolveId(connection, kindOf(kind), value, options);
  }
  if (options.height) json.heightUnits = Number(options.height);
  if (options.asn) json.asn = Number(options.asn);
  if (options.city || options.country) {
    json.location = {
      ...(json.location as object),
      ...(options.city ? { city: options.city } : {}),
      ...(options.country ? { countryCode: options.country } : {}),
    };
  }
  return applySets(json, options.set);
}

export async function run(kindWord: string, name: string | undefined, options: CreateOptions): Promise<void> {
  const kind = kindOf(kindWord);
  const format = formatOf(options.output);
  const connection = connect(options);
  const json = await fromFlags(connection, name, options);
  if (kind.name === "vms") {
    if (options.group) json.groupId = await resolveId(connection, kindOf("hostgroups"), options.group);
    if (options.spec) json.specificationId = await resolveId(connection, kindOf("specifications"), options.spec);
    if (options.image) json.imageId = await resolveId(connection, kindOf("images"), options.image);
    const request = fromJson(CreateVirtualMachineRequestSchema, json as JsonValue);
    const { virtualMachine, operation } = await call(connection, kind, kind.methods.create, request);
    process.stderr.write(`vms/${virtualMachine.name} created (operation ${operation?.id})\n`);
    if (options.wait && operation) await follow(connection, operation.id);
    const fresh = options.wait ? (await call(connection, kind, kind.methods.get, { id: virtualMachine.id }))[kind.field] : virtualMachine;
    await printRows(connection, kind, [fresh], format);
    return;
  }
  if (kind.name === "tokens") {
    const response = await call(connection, kind, kind.methods.create, fromJson(CreateTokenRequestSchema, json as JsonValue));
    process.stderr.write(`tokens/${response.token.id} created; the secret is shown once:\n`);
    process.stdout.write(`${response.secret}\n`);
    return;
  }
  const resource = fromJson(kind.schema, json as JsonValue);
  const response = await call(connection, kind, kind.methods.create, { [kind.field]: resource });
  await printRows(connection, kind, [response[kind.field]], format);
}
