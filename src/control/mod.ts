/**
 * The control plane: HTTP/JSON over the runtime's Unix socket. The server runs inside the
 * runtime; the client serves the CLI and the dashboard.
 *
 * @module
 */
export { ControlClient, type EnqueueRequest, type KindInfo, type StreamEvent } from "./client.ts";
export { ControlServer, type ControlTarget, MAX_BODY_BYTES } from "./server.ts";
export { DEFAULT_SOCKET, probeSocket, resolveSocketPath } from "./socket.ts";
