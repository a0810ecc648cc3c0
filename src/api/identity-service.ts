// rackplane.v1.IdentityService.
import { create } from "@bufbuild/protobuf";
import { durationMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { AgentTokenScopeSchema, ApiTokenSchema, type IdentityService, Role } from "../../gen/es/rackplane/v1/identity_pb.js";
import type { Database } from "../app/database.js";
import { createToken, listTokens, revokeToken, scopeOf, type ApiToken, type Authenticator } from "../app/identity.js";
import type { AgentTokenScope, Role as DomainRole } from "../domain/principal.js";
import { callContext, listRequest, timestamp } from "./convert.js";
import { byId, creates, reads, type TargetRules } from "./request-targets.js";

export function identityService(db: Database, authenticator: Authenticator): ServiceImpl<typeof IdentityService> {
  return {
    async createToken(req, ctx) {
      const { token, secret } = await createToken(db, callContext(ctx), {
        principal: req.principal,
        role: Role[req.role] as DomainRole,
        tenantId: req.tenantId || null,
        description: req.description,
        ttlMillis: req.ttl ? durationMs(req.ttl) : null,
        ...(req.agentScope ? { agentScope: req.agentScope } : {}),
      });
      return { token: tokenMessage(token), secret };
    },
    async listTokens(req, ctx) {
      const page = await listTokens(db, callContext(ctx), listRequest(req));
      return { tokens: page.items.map(tokenMessage), nextPageToken: page.nextPageToken };
    },
    async revokeToken(req, ctx) {
      return { token: tokenMessage(await revokeToken(db, callContext(ctx), authenticator, req.id)) };
    },
    async getCallerIdentity(_req, ctx) {
      const { principal } = callContext(ctx);
      return {
        principal: principal.name,
        role: Role[principal.role],
        tenantId: principal.tenantId ?? "",
        tokenId: principal.tokenId,
        agentScope: scopeMessage(principal.agentScope),
      };
    },
  };
}

function tokenMessage(token: ApiToken) {
  return create(ApiTokenSchema, {
    id: token.id,
    principal: token.principal,
    role: Role[token.role],
    tenantId: token.tenantId ?? "",
    description: token.description,
    secretPrefix: token.secretPrefix,
    createdBy: token.createdBy,
    createTime: timestamp(token.createTime),
    expireTime: timestamp(token.expireTime),
    revokeTime: timestamp(token.revokeTime),
    agentScope: scopeMessage(scopeOf(token)),
  });
}

export const identityTargets: TargetRules<typeof IdentityService> = {
  createToken: creates("api_token"),
  listTokens: reads,
  revokeToken: byId("api_token"),
  getCallerIdentity: reads,
};
function scopeMessage(scope: AgentTokenScope | undefined) {
  return scope
    ? create(AgentTokenScopeSchema, {
        datacenterIds: [...scope.datacenterIds],
        groupIds: [...scope.groupIds],
        jobKinds: [...scope.jobKinds],
      })
    : undefined;
}
