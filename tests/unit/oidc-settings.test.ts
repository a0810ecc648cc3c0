// OIDC settings from the environment: off without an issuer, refused when half configured, the role
// map read in order.
import { describe, expect, it } from "vitest";
import { oidcSettingsFromEnv, parseRoleMap } from "../../src/app/oidc.js";
import { isLoopback } from "../../src/server/tls.js";

describe("OIDC settings", () => {
  it("are off without an issuer", () => {
    expect(oidcSettingsFromEnv({})).toBeUndefined();
    expect(oidcSettingsFromEnv({ RACKPLANE_OIDC_AUDIENCE: "rackplane" })).toBeUndefined();
  });

  it("need an audience with an issuer, and URLs where URLs go", () => {
    expect(() => oidcSettingsFromEnv({ RACKPLANE_OIDC_ISSUER: "https://id.example" })).toThrow(/RACKPLANE_OIDC_AUDIENCE is required/);
    expect(() => oidcSettingsFromEnv({ RACKPLANE_OIDC_ISSUER: "id.example", RACKPLANE_OIDC_AUDIENCE: "a" })).toThrow(
      /RACKPLANE_OIDC_ISSUER must be a URL/,
    );
    expect(() =>
      oidcSettingsFromEnv({ RACKPLANE_OIDC_ISSUER: "https://id.example", RACKPLANE_OIDC_AUDIENCE: "a", RACKPLANE_OIDC_JWKS_URL: "keys" }),
    ).toThrow(/RACKPLANE_OIDC_JWKS_URL must be a URL/);
  });

  it("default the claims and keep the map's order", () => {
    expect(
      oidcSettingsFromEnv({
        RACKPLANE_OIDC_ISSUER: "https://id.example/realms/ops",
        RACKPLANE_OIDC_AUDIENCE: "rackplane",
        RACKPLANE_OIDC_ROLE_MAP: " /ops/admins = PLATFORM_ADMIN , payments=ROLE_TENANT_MEMBER,",
      }),
    ).toEqual({
      issuer: "https://id.example/realms/ops",
      audience: "rackplane",
      roleClaim: "roles",
      tenantClaim: "tenant",
      roleMap: [
        ["/ops/admins", "PLATFORM_ADMIN"],
        ["payments", "TENANT_MEMBER"],
      ],
    });
  });

  it.each(["admins", "=PLATFORM_ADMIN", "admins=ROOT", "admins=platform_admin"])("refuse the role map entry %j", (entry) => {
    expect(() => parseRoleMap(entry)).toThrow(/RACKPLANE_OIDC_ROLE_MAP/);
  });
});

describe("loopback addresses", () => {
  it.each([
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["::1", true],
    ["localhost", true],
    ["0.0.0.0", false],
    ["::", false],
    ["10.0.0.5", false],
    ["rackplane.example", false],
  ])("%s → %s", (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback);
  });
});
