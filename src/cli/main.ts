/**
 * `postern <command>`: argument parsing and help (commander), then one call into the command's
 * module. Commands return an exit status; errors we understand are printed as one clear message,
 * anything else with its stack, since that is a bug to report.
 */
import { Command, CommanderError } from 'commander';
import { isPosternError } from '../core/errors.ts';
import { checkZoneCommand } from './check-zone.ts';
import { processIo, type Io } from './io.ts';
import { routeCommand } from './route.ts';
import { startCommand } from './start.ts';

const CONFIG_HELP = 'the config file (default: $POSTERN_CONFIG, then ./postern.toml)';

export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  let status = 0;
  const program = new Command('postern')
    .description('Postern: a complete Internet mail system. DNS, SMTP MX, delivery, IMAP, POP3, webmail.')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .showHelpAfterError('(add --help for usage)');

  program
    .command('start')
    .description('run every service the config lists (with no config anywhere: the development setup in ./data)')
    .option('-c, --config <file>', CONFIG_HELP)
    .action(async (opts: { config?: string }) => {
      status = await startCommand(opts, io);
    });

  program
    .command('route')
    .description('show where mail for an address would go: MX records, targets in order, or the decision')
    .argument('<address>', 'a recipient address (user@domain) or a bare domain')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--json', 'print the plan as JSON for scripts')
    .action(async (address: string, opts: { config?: string; json?: boolean }) => {
      status = await routeCommand(address, opts, io);
    });

  program
    .command('check-zone')
    .description('parse and check zone files (RFC 1035 master files named ORIGIN.zone) as the DNS server would load them')
    .argument('[files...]', 'zone files (default: every *.zone in the config\'s dns.zones_dir)')
    .option('-c, --config <file>', CONFIG_HELP)
    .action((files: string[], opts: { config?: string }) => {
      status = checkZoneCommand(files, opts, io);
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage errors were already printed.
      return err.exitCode;
    }
    if (isPosternError(err)) {
      io.stderr.write(`postern: ${err.message}\n`);
      return 1;
    }
    io.stderr.write(`postern: unexpected error (please report it):\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 70; // EX_SOFTWARE
  }
  return status;
}
