/**
 * The gateway's volume settings (flags `--volume-*`, set by the chart from its `volumes:` values):
 * which StorageClass, access mode and size a new volume's PersistentVolumeClaim asks for, and which
 * template the volume content sandboxes run. Pure.
 */
import { ConfigError } from "../../../lib/flags.js";

/** The access modes a volume's claim may ask for. */
export const ACCESS_MODES = ["ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod"] as const;
/** One of {@link ACCESS_MODES}. */
export type AccessMode = (typeof ACCESS_MODES)[number];

/** How volumes are made and served. */
export interface VolumeSettings {
  /** The claims' StorageClass; "" = the cluster's default class. */
  storageClassName: string;
  /** ReadWriteOnce (one node at a time), ReadWriteMany (sandboxes on several nodes share it). */
  accessMode: AccessMode;
  /** The size every claim asks for (a Kubernetes quantity). */
  size: string;
  /** The template (`soulbox-template-<id>` in the team namespace) of volume content sandboxes. */
  contentTemplate: string;
  /** A volume content sandbox is deleted after this many seconds without a content request. */
  contentIdleSeconds: number;
}

/** The flag names (the gateway's flag table declares them). */
type VolumeFlag =
  | "volume-storage-class"
  | "volume-access-mode"
  | "volume-size"
  | "volume-content-template"
  | "volume-content-idle-seconds";

const QUANTITY = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const TEMPLATE_ID = /^[a-z0-9]([-a-z0-9]{0,44}[a-z0-9])?$/;

/** The settings from the flags' values (absent: the defaults). Throws ConfigError on a bad value. */
export function parseVolumeSettings(values: Partial<Record<VolumeFlag, string>>): VolumeSettings {
  const storageClassName = values["volume-storage-class"] ?? "";
  if (storageClassName !== "" && !DNS_SUBDOMAIN.test(storageClassName))
    throw new ConfigError(
      `--volume-storage-class must be a StorageClass name (or empty for the cluster default), got '${storageClassName}'`,
    );
  const accessMode = values["volume-access-mode"] ?? "ReadWriteOnce";
  if (!(ACCESS_MODES as readonly string[]).includes(accessMode))
    throw new ConfigError(
      `--volume-access-mode must be one of ${ACCESS_MODES.join(", ")}, got '${accessMode}'`,
    );
  const size = values["volume-size"] ?? "1Gi";
  if (!QUANTITY.test(size))
    throw new ConfigError(`--volume-size must be a quantity such as 1Gi, got '${size}'`);
  const contentTemplate = values["volume-content-template"] ?? "base";
  if (!TEMPLATE_ID.test(contentTemplate))
    throw new ConfigError(
      `--volume-content-template must be a template id such as base, got '${contentTemplate}'`,
    );
  const idle = values["volume-content-idle-seconds"] ?? "300";
  if (!/^\d+$/.test(idle) || Number(idle) < 30 || Number(idle) > 86400)
    throw new ConfigError(
      `--volume-content-idle-seconds must be an integer from 30 to 86400, got '${idle}'`,
    );
  return {
    storageClassName,
    accessMode: accessMode as AccessMode,
    size,
    contentTemplate,
    contentIdleSeconds: Number(idle),
  };
}
