import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  EntryInfoSchema,
  EventType,
  FileType,
  FilesystemEventSchema,
  type EntryInfo,
  type FilesystemEvent,
} from "../../../../api/gen/envd/filesystem/filesystem_pb.js";
import type { Entry } from "../../os/entry-info.js";
import type { FsEvent, FsEventType } from "../../os/dir-watcher.js";

const fileTypes: Record<Entry["type"], FileType> = {
  file: FileType.FILE,
  directory: FileType.DIRECTORY,
  symlink: FileType.SYMLINK,
  other: FileType.UNSPECIFIED,
};

const eventTypes: Record<FsEventType, EventType> = {
  create: EventType.CREATE,
  write: EventType.WRITE,
  remove: EventType.REMOVE,
  rename: EventType.RENAME,
  chmod: EventType.CHMOD,
};

/** OS entry → wire EntryInfo. */
export function entryToWire(e: Entry): EntryInfo {
  return create(EntryInfoSchema, {
    name: e.name,
    type: fileTypes[e.type],
    path: e.path,
    size: BigInt(e.size),
    mode: e.mode,
    permissions: e.permissions,
    owner: e.owner,
    group: e.group,
    modifiedTime: timestampFromDate(e.modifiedTime),
    symlinkTarget: e.symlinkTarget,
    metadata: e.metadata,
  });
}

/** OS event → wire FilesystemEvent. */
export function eventToWire(e: FsEvent, entry?: Entry): FilesystemEvent {
  return create(FilesystemEventSchema, {
    name: e.name,
    type: eventTypes[e.type],
    entry: entry ? entryToWire(entry) : undefined,
  });
}
