import { createFreezer, type Freezer } from "../os/freezer.js";
import { createProcessTable, type ProcessTable } from "../os/process-table.js";
import { createUserDatabase, type UnixUser, type UserDatabase } from "../os/users.js";
import { createWatcherRegistry, type WatcherRegistry } from "../os/watcher-registry.js";
import { parseBasicUser } from "../shared/basic-auth.js";
import { EnvdError } from "../shared/errors.js";

/** Sandbox-wide settings that `POST /init` may change. */
export interface SandboxDefaults {
  user: string;
  workdir: string | undefined;
  envVars: Record<string, string>;
}

/** Everything the executor's handlers share. */
export interface ExecutorContext {
  users: UserDatabase;
  processes: ProcessTable;
  watchers: WatcherRegistry;
  /** Pauses every sandbox process in place (spec.state Paused, pauseMode Freeze). */
  freezer: Freezer;
  defaults: SandboxDefaults;
  /** Our own uid: only root may act as other users. */
  uid: number;
  /** Resolves the acting user from an `Authorization: Basic` header, or the default user. */
  actingUser(authorization: string | null | undefined): Promise<UnixUser>;
  /** Like {@link actingUser}, from an explicit user name (the `/files` `username` query). */
  namedUser(name: string | undefined): Promise<UnixUser>;
}

/** Creates the executor context. */
export function createExecutorContext(defaults: SandboxDefaults): ExecutorContext {
  const users = createUserDatabase();
  const uid = process.getuid?.() ?? 0;
  const namedUser = async (name: string | undefined) => {
    const user = await users.lookup(name || defaults.user);
    if (uid !== 0 && user.uid !== uid) {
      throw new EnvdError(
        "permission_denied",
        `envd runs as uid ${uid} and cannot act as user '${user.name}'; run it as root to switch users`,
      );
    }
    return user;
  };
  return {
    users,
    processes: createProcessTable(),
    watchers: createWatcherRegistry(),
    freezer: createFreezer(),
    defaults,
    uid,
    namedUser,
    actingUser: (authorization) => namedUser(parseBasicUser(authorization)),
  };
}
