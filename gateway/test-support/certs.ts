/** A throwaway CA and a wildcard server certificate for `*.{domain}`, made with the openssl CLI. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** PEM texts of the test PKI. */
export interface TestCerts {
  ca: string;
  cert: string;
  key: string;
}

/** Makes a CA and a leaf for `*.{domain}` and `{domain}` in a temp dir (removed again). */
export function makeWildcardCerts(domain: string): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), "soulbox-proxy-pki-"));
  const run = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  try {
    run(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=SoulBox test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
    );
    run(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      `/CN=*.${domain}`,
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
    );
    writeFileSync(
      join(dir, "ext.cnf"),
      `subjectAltName=DNS:*.${domain},DNS:${domain}\nextendedKeyUsage=serverAuth\n`,
    );
    run(
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      "ext.cnf",
      "-out",
      "server.crt",
    );
    return {
      ca: readFileSync(join(dir, "ca.crt"), "utf8"),
      cert: readFileSync(join(dir, "server.crt"), "utf8"),
      key: readFileSync(join(dir, "server.key"), "utf8"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
