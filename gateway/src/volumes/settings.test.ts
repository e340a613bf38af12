import { ConfigError } from "../../../lib/flags.js";
import { parseVolumeSettings } from "./settings.js";

test("defaults: the cluster's default class, ReadWriteOnce, 1Gi, template base, 300 s idle", () => {
  expect(parseVolumeSettings({})).toEqual({
    storageClassName: "",
    accessMode: "ReadWriteOnce",
    size: "1Gi",
    contentTemplate: "base",
    contentIdleSeconds: 300,
  });
});

test("values", () => {
  expect(
    parseVolumeSettings({
      "volume-storage-class": "efs-sc",
      "volume-access-mode": "ReadWriteMany",
      "volume-size": "20Gi",
      "volume-content-template": "python",
      "volume-content-idle-seconds": "60",
    }),
  ).toEqual({
    storageClassName: "efs-sc",
    accessMode: "ReadWriteMany",
    size: "20Gi",
    contentTemplate: "python",
    contentIdleSeconds: 60,
  });
});

test.each<[Parameters<typeof parseVolumeSettings>[0], RegExp]>([
  [{ "volume-storage-class": "Bad_Class" }, /--volume-storage-class/],
  [{ "volume-access-mode": "ReadOnlyMany" }, /--volume-access-mode must be one of/],
  [{ "volume-size": "lots" }, /--volume-size/],
  [{ "volume-size": "-1Gi" }, /--volume-size/],
  [{ "volume-content-template": "Base" }, /--volume-content-template/],
  [{ "volume-content-idle-seconds": "5" }, /from 30 to 86400/],
  [{ "volume-content-idle-seconds": "x" }, /from 30 to 86400/],
])("refuses %j", (values, message) => {
  expect(() => parseVolumeSettings(values)).toThrow(ConfigError);
  expect(() => parseVolumeSettings(values)).toThrow(message);
});
