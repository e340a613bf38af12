import { connect } from "node:net";

/**
 * Whether the unix socket at `path` takes a connection now: one try, closed at once, never
 * throws. "The file exists" is not enough: a server binds before it listens.
 */
export function socketAccepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
