/**
 * `postern <command>`: argument parsing and help (commander), then one call into the command's
 * module. Commands return an exit status; errors we understand are printed as one clear message,
 * anything else with its stack, since that is a bug to report.
 */
import { Command, CommanderError } from 'commander';
import { isPosternError } from '../core/errors.ts';
import { isStoreError } from '../store/errors.ts';
import { accountAddCommand, accountListCommand, accountRemoveCommand } from './account.ts';
import { aliasAddCommand, aliasListCommand, aliasRemoveCommand } from './alias.ts';
import { checkZoneCommand } from './check-zone.ts';
import { domainAddCommand, domainListCommand, domainRemoveCommand, domainRoleCommand } from './domain.ts';
import { processIo, type Io } from './io.ts';
import { mailboxListCommand } from './mailbox.ts';
import { queueDeleteCommand, queueHoldCommand, queueListCommand, queueReleaseCommand, queueRetryCommand, queueShowCommand } from './queue.ts';
import { routeCommand } from './route.ts';
import { sendmailCommand } from './sendmail.ts';
import { startCommand } from './start.ts';
import { checkCommand } from './check.ts';
import { labCommand } from './lab.ts';
import { quickstartCommand } from './quickstart.ts';

const CONFIG_HELP = 'the config file (default: $POSTERN_CONFIG, then ./postern.toml)';

export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  let status = 0;
  const program = new Command('postern')
    .description('Postern: a complete Internet mail system. DNS, SMTP MX, delivery, IMAP, POP3, webmail.')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // One width everywhere, so help reads the same in a terminal, a pipe and the README.
      getOutHelpWidth: () => 100,
      getErrHelpWidth: () => 100,
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

  const account = program.command('account').description('accounts of the primary domains: addresses with a password and mailboxes');
  account
    .command('add')
    .description('create an account (its domain must be a primary domain) with its mailboxes')
    .argument('<address>', 'user@domain')
    .option('--password <password>', 'the password (visible to other users in the process list: prefer --password-stdin)')
    .option('--password-stdin', 'read the password from the first line of standard input')
    .option('-c, --config <file>', CONFIG_HELP)
    .action(async (address: string, opts: { config?: string; password?: string; passwordStdin?: boolean }) => {
      status = await accountAddCommand(address, opts, io);
    });
  account
    .command('list')
    .description('every account, with its message count')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--json', 'print JSON for scripts')
    .action(async (opts: { config?: string; json?: boolean }) => {
      status = await accountListCommand(opts, io);
    });
  account
    .command('remove')
    .description('delete an account with its mailboxes and every message in them')
    .argument('<address>', 'user@domain')
    .option('-c, --config <file>', CONFIG_HELP)
    .action(async (address: string, opts: { config?: string }) => {
      status = await accountRemoveCommand(address, opts, io);
    });

  const domain = program.command('domain').description('mail domains kept in the store: every node on the store serves them, without a restart');
  domain
    .command('add')
    .description('serve a domain: primary (mail filed in mailboxes here) or backup (held and forwarded to its more preferred MX hosts)')
    .argument('<domain>', 'the mail domain (the name its MX records are on)')
    .option('--role <role>', 'primary or backup', 'primary')
    .option('-c, --config <file>', CONFIG_HELP)
    .action(async (name: string, opts: { config?: string; role?: string }) => {
      status = await domainAddCommand(name, opts, io);
    });
  domain
    .command('list')
    .description("every domain this node serves: the config file's [[domain]] tables and the store's, with their accounts")
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--json', 'print JSON for scripts')
    .action(async (opts: { config?: string; json?: boolean }) => {
      status = await domainListCommand(opts, io);
    });
  domain
    .command('role')
    .description("change a stored domain's role (a backup MX that becomes a primary, or back)")
    .argument('<domain>', 'a domain added with postern domain add')
    .argument('<role>', 'primary or backup')
    .option('--force', 'make a primary domain with accounts or aliases a backup domain anyway (their mail is then held and forwarded)')
    .option('-c, --config <file>', CONFIG_HELP)
    .action(async (name: string, role: string, opts: { config?: string; force?: boolean }) => {
      status = await domainRoleCommand(name, role, opts, io);
    });
  domain
    .command('remove')
    .description('stop serving a domain (refused while a primary domain has accounts or aliases, unless --force)')
    .argument('<domain>', 'a domain added with postern domain add')
    .option('--force', 'remove it even with accounts or aliases: they and their mail are kept but receive nothing')
    .option('-c, --config <file>', CONFIG_HELP)
    .action(async (name: string, opts: { config?: string; force?: boolean }) => {
      status = await domainRemoveCommand(name, opts, io);
    });

  const alias = program.command('alias').description('other addresses that deliver to accounts or elsewhere, and catch-alls (@domain)');
  alias
    .command('add')
    .description('make ALIAS deliver to TARGET (run again to add more targets)')
    .argument('<alias>', 'user@domain, or @domain for every address of the domain without an account or alias')
    .argument('<target>', 'an account, another alias, or an address elsewhere')
    .option('-c, --config <file>', CONFIG_HELP)
    .action(async (aliasName: string, target: string, opts: { config?: string }) => {
      status = await aliasAddCommand(aliasName, target, opts, io);
    });
  alias
    .command('list')
    .description('every alias and its targets')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--json', 'print JSON for scripts')
    .action(async (opts: { config?: string; json?: boolean }) => {
      status = await aliasListCommand(opts, io);
    });
  alias
    .command('remove')
    .description('remove one target of an alias, or the whole alias')
    .argument('<alias>', 'user@domain or @domain')
    .argument('[target]', 'only this target')
    .option('-c, --config <file>', CONFIG_HELP)
    .action(async (aliasName: string, target: string | undefined, opts: { config?: string }) => {
      status = await aliasRemoveCommand(aliasName, target, opts, io);
    });

  const queue = program.command('queue').description('messages waiting for delivery (works while the server runs)');
  queue
    .command('list')
    .description('every queued message: id, age, size, sender, and each recipient\'s state, attempts, next attempt, last reply')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--json', 'print JSON for scripts')
    .action(async (opts: { config?: string; json?: boolean }) => {
      status = await queueListCommand(opts, io);
    });
  queue
    .command('show')
    .description('one message: envelope, recipients and its header section')
    .argument('<id>', 'a queue id (postern queue list)')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--json', 'print JSON for scripts')
    .action(async (id: string, opts: { config?: string; json?: boolean }) => {
      status = await queueShowCommand(id, opts, io);
    });
  queue
    .command('retry')
    .description('try a message\'s queued recipients (or every message\'s, with --all) at the next queue run')
    .argument('[id]', 'a queue id')
    .option('--all', 'every message in the queue')
    .option('-c, --config <file>', CONFIG_HELP)
    .action(async (id: string | undefined, opts: { config?: string; all?: boolean }) => {
      status = await queueRetryCommand(id, opts, io);
    });
  queue
    .command('delete')
    .description('remove a message from the queue, without telling its sender')
    .argument('<id>', 'a queue id')
    .option('-c, --config <file>', CONFIG_HELP)
    .action(async (id: string, opts: { config?: string }) => {
      status = await queueDeleteCommand(id, opts, io);
    });
  queue
    .command('hold')
    .description('keep a message\'s queued recipients from delivery until released')
    .argument('<id>', 'a queue id')
    .option('-c, --config <file>', CONFIG_HELP)
    .action(async (id: string, opts: { config?: string }) => {
      status = await queueHoldCommand(id, opts, io);
    });
  queue
    .command('release')
    .description('let held recipients go, at once')
    .argument('<id>', 'a queue id')
    .option('-c, --config <file>', CONFIG_HELP)
    .action(async (id: string, opts: { config?: string }) => {
      status = await queueReleaseCommand(id, opts, io);
    });

  const mailbox = program.command('mailbox').description('what accounts have received');
  mailbox
    .command('list')
    .description('the messages in an account\'s INBOX: uid, date, from, to, subject, size, message-id')
    .argument('<address>', 'user@domain')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--json', 'print JSON for scripts')
    .action(async (address: string, opts: { config?: string; json?: boolean }) => {
      status = await mailboxListCommand(address, opts, io);
    });

  program
    .command('sendmail')
    .description('submit a message from standard input, like sendmail(1) (postern sendmail --help for its options)')
    .usage('[-f SENDER] [-t] [-i] [-c CONFIG] [RECIPIENT...] < message')
    // sendmail's own options (-oi, -fSENDER, -t …) are parsed by sendmail.ts, the way getopt does.
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[]) => {
      status = await sendmailCommand(args, io);
    });

  program
    .command('quickstart')
    .description('write a production config and zone for DOMAIN on this server, create postmaster, and print the DNS records, PTR and next steps')
    .argument('<domain>', 'the mail domain, like example.com')
    .requiredOption('--ip <address>', 'the server\'s public IPv4 or IPv6 address (every service listens on it; the zone points to it)')
    .option('--dir <dir>', 'where postern.toml and zones/ are written', '.')
    .option('--hostname <name>', 'the mail host\'s name (default: mail.DOMAIN)')
    .option('--force', 'replace postern.toml and the zone file if they exist')
    .action(async (domain: string, opts: { ip: string; dir: string; hostname?: string; force?: boolean }) => {
      status = await quickstartCommand(domain, opts, io);
    });

  program
    .command('lab')
    .description('run a scenario of the tutorial as real Postern processes on loopback, narrated (no scenario: list them)')
    .argument('[scenario]', 'a folder of scenarios/, e.g. 2-datacenters')
    .option('--keep', 'leave the topology running afterwards, with commands to try; Ctrl-C stops it')
    .action(async (scenario: string | undefined, opts: { keep?: boolean }) => {
      status = await labCommand(scenario, opts, io);
    });

  program
    .command('check')
    .description('a health check of a domain\'s mail setup: MX records, every MX host over SMTP (TLS, reverse DNS), backup MX sanity, SPF and DMARC; exit 1 on any failure')
    .argument('<domain>', 'the mail domain, like example.com')
    .option('--resolver <ip:port>', 'ask this DNS server (default: the config\'s dns.resolvers, else /etc/resolv.conf)')
    .option('--port <n>', 'the MX hosts\' SMTP port (default: 25, or the config\'s smtp.outbound_port)')
    .option('--timeout <ms>', 'how long each network step may take', '10000')
    .option('--json', 'print the findings as JSON for scripts')
    .option('-c, --config <file>', 'a config to take resolvers, port and our EHLO name from (default: $POSTERN_CONFIG if set, else none)')
    .action(async (domain: string, opts: { resolver?: string; port?: string; timeout?: string; json?: boolean; config?: string }) => {
      status = await checkCommand(domain, opts, io);
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage errors were already printed.
      return err.exitCode;
    }
    if (isPosternError(err) || isStoreError(err)) {
      io.stderr.write(`postern: ${err.message}\n`);
      return 1;
    }
    io.stderr.write(`postern: unexpected error (please report it):\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 70; // EX_SOFTWARE
  }
  return status;
}
