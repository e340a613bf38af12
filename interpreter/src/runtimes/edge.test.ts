import { workerdConfig } from "./edge.js";

describe("workerd's config for one cell", () => {
  it("serves the embedded worker.js module on the given loopback port", () => {
    const cfg = workerdConfig(41234);
    expect(cfg).toContain('using Workerd = import "/workerd/workerd.capnp";');
    expect(cfg).toContain('address = "127.0.0.1:41234"');
    expect(cfg).toContain('esModule = embed "worker.js"');
    expect(cfg).toMatch(/compatibilityDate = "\d{4}-\d{2}-\d{2}"/);
  });

  it("listens on the host it is given (every interface for serve)", () => {
    expect(workerdConfig(8080, "2024-01-01", "*")).toContain('address = "*:8080"');
    expect(workerdConfig(8080, "2024-01-01")).toContain('compatibilityDate = "2024-01-01"');
  });
});
