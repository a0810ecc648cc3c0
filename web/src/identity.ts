// Who is signed in, for pages that show or hide what the role allows (the server decides anyway).
import { createContext, useContext } from "react";
import { type GetCallerIdentityResponse, Role } from "../../gen/es/rackplane/v1/identity_pb.js";

export const Caller = createContext<GetCallerIdentityResponse | undefined>(undefined);

export function useCaller(): GetCallerIdentityResponse {
  const caller = useContext(Caller);
  if (!caller) throw new Error("useCaller outside a signed-in console");
  return caller;
}

export function isPlatformAdmin(caller: GetCallerIdentityResponse): boolean {
  return caller.role === Role.PLATFORM_ADMIN;
}
