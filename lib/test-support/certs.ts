/** Throwaway CAs and server certificates for tests, made with the openssl CLI. */
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
  const [leaf] = makeCertsOfOneCa([domain]);
  if (!leaf) throw new Error("openssl made no certificate");
  return leaf;
}

/**
 * Makes one CA and, for each domain, a leaf for `*.{domain}` and `{domain}` signed by it (the
 * same `ca` in every result), in a temp dir (removed again).
 */
export function makeCertsOfOneCa(domains: readonly string[]): TestCerts[] {
  const dir = mkdtempSync(join(tmpdir(), "soulbox-test-pki-"));
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
    const ca = readFileSync(join(dir, "ca.crt"), "utf8");
    return domains.map((domain, i) => {
      run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        `/CN=*.${domain}`,
        "-keyout",
        `server${i}.key`,
        "-out",
        `server${i}.csr`,
      );
      writeFileSync(
        join(dir, `ext${i}.cnf`),
        `subjectAltName=DNS:*.${domain},DNS:${domain}\nextendedKeyUsage=serverAuth\n`,
      );
      run(
        "x509",
        "-req",
        "-in",
        `server${i}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        `ext${i}.cnf`,
        "-out",
        `server${i}.crt`,
      );
      return {
        ca,
        cert: readFileSync(join(dir, `server${i}.crt`), "utf8"),
        key: readFileSync(join(dir, `server${i}.key`), "utf8"),
      };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
