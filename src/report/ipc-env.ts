// Whether the nucleus set this process up for IPC. Kept apart from ipc.ts so
// deciding costs nothing: ipc.ts loads the SDK and its native library (~20 MB).
export const SOCKET_ENV = 'AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT';
export const TOKEN_ENV = 'SVCUID';

export function ipcAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env[SOCKET_ENV] && env[TOKEN_ENV]);
}
