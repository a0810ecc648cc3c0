// `rackctl login`: proves the server answers and the token is accepted, then saves the context.
import { IdentityService, Role } from "../../../gen/es/rackplane/v1/identity_pb.js";
import { saveContext } from "../config.js";
import { connect } from "../connection.js";
import { UsageError } from "../errors.js";

interface LoginOptions {
  server?: string;
  token?: string;
  tokenFile?: string;
  caFile?: string;
  name: string;
}

export async function run(options: LoginOptions): Promise<void> {
  if (!options.server) throw new UsageError("login needs --server URL");
  if (!options.token && !options.tokenFile) throw new UsageError("login needs --token-file FILE or --token TOKEN");
  const context = {
    server: options.server,
    ...(options.tokenFile ? { tokenFile: options.tokenFile } : { token: options.token }),
    ...(options.caFile ? { caFile: options.caFile } : {}),
  };
  const identity = await connect({ ...context, context: undefined })
    .client(IdentityService)
    .getCallerIdentity({});
  const path = saveContext(options.name, context);
  process.stdout.write(
    `logged in to ${options.server} as ${identity.principal} (${Role[identity.role]}); context "${options.name}" saved in ${path}\n`,
  );
}
