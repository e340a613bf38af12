/**
 * The local cluster's DNS (dnsmasq, e2e/cluster/lib/dns.sh) is restarted whenever a test file's
 * gateway release adds or removes its domain; a lookup that falls in that window (a fraction of
 * a second) gets ENOTFOUND from the machine's other nameserver. Test files run in parallel, so a
 * test would fail on another file's install. This wraps `dns.lookup` (what undici's and Node's
 * connections use) in this process to ask again, for names under the given domain only, for up
 * to about 2 s. A name that really does not resolve still fails, only later.
 */
import { createRequire } from "node:module";
import type * as Dns from "node:dns";
import type { LookupAddress, LookupOptions } from "node:dns";

// The module object itself (not an ESM namespace, whose exports cannot be reassigned): net and
// tls read `dns.lookup` from it at each connect.
const dns = createRequire(import.meta.url)("node:dns") as typeof Dns;

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

const RETRIES = 20;
const RETRY_MS = 100;

/** Retries ENOTFOUND/EAI_AGAIN lookups of names under `domain`; returns the undo. */
export function retryLookupsUnder(domain: string): () => void {
  const original = dns.lookup;
  const suffix = `.${domain}`;
  function lookup(hostname: string, options: unknown, callback?: unknown): void {
    const cb = (typeof options === "function" ? options : callback) as LookupCallback;
    const opts = (typeof options === "function" ? {} : (options ?? {})) as LookupOptions;
    if (!hostname.endsWith(suffix)) {
      original(hostname, opts, cb as never);
      return;
    }
    const attempt = (left: number) =>
      original(hostname, opts, ((
        err: NodeJS.ErrnoException | null,
        address: string | LookupAddress[],
        family?: number,
      ) => {
        const transient = err && (err.code === "ENOTFOUND" || err.code === "EAI_AGAIN");
        if (transient && left > 0) setTimeout(() => attempt(left - 1), RETRY_MS);
        else cb(err, address, family);
      }) as never);
    attempt(RETRIES);
  }
  dns.lookup = lookup as typeof dns.lookup;
  return () => {
    if (dns.lookup === (lookup as typeof dns.lookup)) dns.lookup = original;
  };
}
