/** What a command may touch of the outside world, so tests can run commands in-process. */
export interface Io {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Registers a signal handler; returns the function that unregisters it. */
  onSignal: (signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP', handler: () => void) => () => void;
  /** Everything on standard input, as bytes (a message for sendmail, a password). Default: process.stdin. */
  stdin?: () => Promise<Uint8Array>;
}

/** Standard input as bytes, through the Io's hook when it has one. */
export function readStdin(io: Io): Promise<Uint8Array> {
  return (io.stdin ?? readProcessStdin)();
}

async function readProcessStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return new Uint8Array(Buffer.concat(chunks));
}

export function processIo(): Io {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    onSignal(signal, handler) {
      process.on(signal, handler);
      return () => process.off(signal, handler);
    },
    stdin: readProcessStdin,
  };
}
