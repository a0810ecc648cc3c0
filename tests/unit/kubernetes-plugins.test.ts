// The plugin rules (domain/kubernetes-plugins.ts): which Kubernetes releases a plugin version
// supports, and what an install or upgrade to a version is refused for.
import { describe, expect, it } from "vitest";
import {
  observedPluginStatus,
  requireInstallableVersion,
  requirePluginChangeAllowed,
  supportsKubernetesVersion,
  type CataloguePlugin,
} from "../../src/domain/kubernetes-plugins.js";

const plugin: CataloguePlugin = {
  id: "p",
  name: "ingress-nginx",
  versions: [
    { version: "4.10.0", status: "AVAILABLE", kubernetesVersions: ["1.30", "1.31.4"] },
    { version: "4.9.0", status: "WITHDRAWN", kubernetesVersions: ["1.30"] },
  ],
};

describe("a plugin version's supported releases", () => {
  it("a minor entry takes every patch; a full entry one release", () => {
    expect(supportsKubernetesVersion(["1.30"], "1.30.0")).toBe(true);
    expect(supportsKubernetesVersion(["1.30"], "1.30.12")).toBe(true);
    expect(supportsKubernetesVersion(["1.30"], "1.31.0")).toBe(false);
    expect(supportsKubernetesVersion(["1.31.4"], "1.31.4")).toBe(true);
    expect(supportsKubernetesVersion(["1.31.4"], "1.31.5")).toBe(false);
    expect(supportsKubernetesVersion(["1.3"], "1.30.1")).toBe(false);
    expect(supportsKubernetesVersion(["1.30"], "not a version")).toBe(false);
  });
});

describe("an installable version", () => {
  it("exists, is available and supports the cluster's release", () => {
    expect(requireInstallableVersion(plugin, "4.10.0", "1.30.2", "version").version).toBe("4.10.0");
    expect(() => requireInstallableVersion(plugin, "5.0.0", "1.30.2", "version")).toThrow(
      expect.objectContaining({ reason: "PLUGIN_VERSION_UNKNOWN" }),
    );
    expect(() => requireInstallableVersion(plugin, "4.9.0", "1.30.2", "version")).toThrow(
      expect.objectContaining({ reason: "PLUGIN_VERSION_WITHDRAWN" }),
    );
    expect(() => requireInstallableVersion(plugin, "4.10.0", "1.31.5", "version")).toThrow(
      expect.objectContaining({
        reason: "PLUGIN_VERSION_INCOMPATIBLE",
        metadata: { plugin: "ingress-nginx", plugin_version: "4.10.0", kubernetes_version: "1.31.5" },
      }),
    );
  });

  it("only on an ACTIVE cluster, a marked one refused for its mark", () => {
    expect(() => requirePluginChangeAllowed({ id: "c", status: "ACTIVE" })).not.toThrow();
    expect(() => requirePluginChangeAllowed({ id: "c", status: "MAINTENANCE" })).toThrow(
      expect.objectContaining({ reason: "CLUSTER_MARKED" }),
    );
    expect(() => requirePluginChangeAllowed({ id: "c", status: "UPDATING" })).toThrow(expect.objectContaining({ reason: "INVALID_STATE" }));
  });

  it("agents report ACTIVE, INACTIVE or ERROR, the last two with a message", () => {
    expect(observedPluginStatus("ACTIVE", "")).toBe("ACTIVE");
    expect(observedPluginStatus("ERROR", "oom")).toBe("ERROR");
    expect(() => observedPluginStatus("INACTIVE", " ")).toThrow(expect.objectContaining({ reason: "STATUS_MESSAGE_REQUIRED" }));
    expect(() => observedPluginStatus("UPGRADING", "x")).toThrow(expect.objectContaining({ reason: "STATUS_NOT_REPORTABLE" }));
  });
});
