/**
 * /etc/resolv.conf is machine-wide and `cluster dns add` refuses a second cluster while another
 * cluster's DNS owns it. Test files run in parallel: the ones that use the test run's cluster DNS
 * (the gateway's e2e tests) hold this lock shared, the ones that make clusters of their own to
 * test the DNS itself hold it exclusively.
 */
import { holdFileLock } from "./file-lock.js";

const LOCK = "/tmp/soulbox-test-dns.lock";

/** Waits for the lock; resolves with the function that releases it. */
export async function holdDnsLock(mode: "shared" | "exclusive"): Promise<() => Promise<void>> {
  return holdFileLock(LOCK, mode);
}
