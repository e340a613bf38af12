/**
 * The envd version SoulBox reports. E2B's SDK enables features by comparing
 * against it; it must be at least the newest feature gate in the installed
 * `e2b` SDK (0.6.4 in e2b 2.51: watching network mounts).
 */
export const ENVD_VERSION = "0.6.4";
