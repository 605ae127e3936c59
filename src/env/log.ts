// The injected logger: the pino-compatible subset core modules use. Production passes a pino
// logger; tests and the simulator pass a silent or recording one.

export interface Log {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLog: Log = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
