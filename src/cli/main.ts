// The `dynakv` command line (commander): cluster and node supervision, and the key-value verbs
// against a running node. --help/-h on any command prints its usage (exit 0); a command line
// commander cannot parse (unknown flag or command, bad value) is one line on stderr with a pointer
// to --help (exit 2); an operating error is one line too (exit 1, or 2 when the node is
// unreachable). No stack traces. The connection flags work before or after the command.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { USAGE_EXIT_CODE } from './args.ts';
import { ClientError, DynakvClient } from '../client/http-client.ts';
import { DEFAULT_CONFIG } from '../node/config.ts';
import { runCertsCreateCa, runCertsCreateAccessKey, runCertsCreateClient, runCertsCreateNode } from './certs-command.ts';
import { parseNodeCount, runClusterStart } from './cluster-command.ts';
import { connectionOptions, insecureWarning, resolveConnection, type ConnectionFlags } from './connection.ts';
import { parseQuorum, runDelete, runGet, runPut, runRing } from './kv-commands.ts';
import { parsePort, runNodeStart } from './node-command.ts';
import { runMembers, runMembersAdd, runMembersLog, runMembersRemove } from './member-commands.ts';
import { runShell } from './shell.ts';
import { terminalSafe } from './terminal-text.ts';

/** How long a failed command may take to release its handles before the process exits anyway. */
const EXIT_AFTER_FAILURE_MS = 2_000;

/** Log levels a node takes (pino's, plus silent). */
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

// Positional options: the program's own flags are read only before the command, so that
// `node start --certs-dir D` reaches `node start` (whose --certs-dir is the node's, and which
// commander would otherwise hand to the program); handGlobalsDown passes the ones given before
// the command on to it, so either position works.
const program = new Command();
program
  .name('dynakv')
  .description('A Dynamo-style distributed key-value store')
  .enablePositionalOptions()
  .addHelpText(
    'after',
    '\nThe options above are the connection flags of the commands that talk to a node (put, get, delete,\n' +
      'ring, members, shell); they may come before or after the command: `dynakv --node HOST:PORT get k`\n' +
      'is `dynakv get k --node HOST:PORT`. --certs-dir and --insecure before cluster, node or certs\n' +
      'commands go to that command. `dynakv COMMAND --help` shows the options of a command.',
  );
connectionOptions().forEach((o) => program.addOption(o));

const out = { log: (line: string) => console.log(line) };
/** Adds --node, --certs-dir, --user, --token and --insecure (connection.ts) to a command. */
const withConnection = <T extends { addOption(o: Option): T }>(command: T): T => connectionOptions().reduce((c, o) => c.addOption(o), command);
/**
 * A commander argParser that runs `check` on a flag's text, so that a bad value is a usage error
 * (exit 2, one line) at parse time; the command still receives the text and checks it again.
 */
const checked =
  (check: (text: string) => unknown) =>
  (text: string): string => {
    try {
      check(text);
    } catch (err) {
      throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
    }
    return text;
  };
const clientOf = (opts: ConnectionFlags) => {
  const { url, credentials, insecure } = resolveConnection(opts);
  if (insecure === true) console.error(`dynakv: ${terminalSafe(insecureWarning(url))}`);
  return new DynakvClient(url, credentials !== undefined ? { credentials } : {});
};

const cluster = program.command('cluster').description('run a local cluster');
cluster
  .command('start')
  .description('start a local cluster of node processes on loopback')
  .option('--nodes <count>', 'number of nodes (1..50)', checked(parseNodeCount), '5')
  .option('--base-port <port>', 'HTTP port of the first node; peer ports are 100 above', checked((t) => parsePort(t, '--base-port')), '7001')
  .option('--data-dir <dir>', 'parent directory of the nodes\' data', './data')
  .addOption(new Option('--log-level <level>', 'node log level; info shows membership events').choices(LOG_LEVELS).default('info'))
  .addOption(new Option('--log-format <format>', 'auto: readable in a terminal, JSON otherwise').choices(['auto', 'pretty', 'json']).default('auto'))
  .option('--insecure', 'start the nodes without authentication or encryption (no certificates are made)')
  .action(runClusterStart);

const certs = program.command('certs').description('make the certificates, cluster secret and client credentials of a secure cluster');
certs
  .command('create-ca')
  .description('a cluster CA (ca.crt, its key) and the cluster secret, beside the key')
  .requiredOption('--certs-dir <dir>', 'directory for ca.crt')
  .option('--ca-key <file>', 'where to write the CA key (default: <certs-dir>/ca.key); cluster.secret goes beside it')
  .action((opts) => runCertsCreateCa(opts, out));
certs
  .command('create-node <id>')
  .description('a node certificate (node.crt, node.key) with copies of ca.crt and cluster.secret')
  .requiredOption('--certs-dir <dir>', 'the node\'s certs dir (dynakv node start --certs-dir)')
  .requiredOption('--ca-key <file>', 'the CA key; ca.crt and cluster.secret are read from beside it')
  .option('--host <hosts>', 'extra DNS names or IP addresses the node is reached at, comma-separated (localhost, 127.0.0.1, ::1 are always in)')
  .action((id: string, opts) => runCertsCreateNode(id, opts, out));
certs
  .command('create-client <name>')
  .description('a client certificate (client.NAME.crt/.key) and bearer token (client.NAME.token)')
  .requiredOption('--certs-dir <dir>', 'directory to write them into')
  .requiredOption('--ca-key <file>', 'the CA key; ca.crt and cluster.secret are read from beside it')
  .addOption(new Option('--role <role>', 'admin may also change membership').choices(['admin', 'user']).default('user'))
  .action((name: string, opts) => runCertsCreateClient(name, opts, out));
certs
  .command('create-access-key <name>')
  .description('a DynamoDB API access key (client.NAME.aws-credentials, an AWS shared credentials file); create-client writes one too')
  .requiredOption('--certs-dir <dir>', 'directory to write it into')
  .requiredOption('--ca-key <file>', 'the CA key; cluster.secret is read from beside it')
  .addOption(new Option('--role <role>', 'admin may also create and delete tables').choices(['admin', 'user']).default('user'))
  .action((name: string, opts) => runCertsCreateAccessKey(name, opts, out));

const node = program.command('node').description('run one node');
node
  .command('start')
  .description('start one node in this process')
  .requiredOption('--id <id>', 'node id (its ring position is MD5 of it)')
  .requiredOption('--http-port <port>', 'client HTTP port', checked((t) => parsePort(t, '--http-port')))
  .requiredOption('--peer-port <port>', 'peer TCP port', checked((t) => parsePort(t, '--peer-port')))
  .requiredOption('--data-dir <dir>', 'directory for this node\'s LMDB files')
  .option('--peers <list>', 'bootstrap ring for a new cluster: n1=HOST:PEERPORT,n2=...')
  .option('--join <addresses>', 'peer address(es) HOST:PORT of a running node to learn the cluster from')
  .option('--advertise-host <host>', 'address other nodes use to reach this one (default: --host)')
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--cluster <name>', 'cluster name; peers must agree', DEFAULT_CONFIG.cluster)
  .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
  .option('--certs-dir <dir>', 'secure mode: the node\'s certs dir (dynakv certs create-node): peer mutual TLS, cluster secret')
  .option('--insecure', 'run without authentication or encryption (a warning is logged)')
  .option('--http-limit <name=value...>', 'override an HTTP limit, e.g. httpConnectionsMax=1024 or httpRequestTimeoutMs=60000 (see README, Security)')
  .action(runNodeStart);

withConnection(program.command('put <key> <value>'))
  .description('write a value (UTF-8 text)')
  .option('--context <context>', 'context from a read: supersede what it saw')
  .option('--content-type <type>', 'content type to store')
  .option('--w <w>', 'write quorum, 1..N', checked((t) => parseQuorum(t, '--w')))
  .action((key: string, value: string, opts) => runPut(clientOf(opts), key, value, opts, out));

withConnection(program.command('get <key>'))
  .description('read a value; shows siblings and the context')
  .option('--r <r>', 'read quorum, 1..N', checked((t) => parseQuorum(t, '--r')))
  .action((key: string, opts) => runGet(clientOf(opts), key, opts, out));

withConnection(program.command('delete <key>'))
  .description('delete a key (a tombstone that keeps its clock)')
  .option('--context <context>', 'context from a read')
  .option('--w <w>', 'write quorum, 1..N', checked((t) => parseQuorum(t, '--w')))
  .action((key: string, opts) => runDelete(clientOf(opts), key, opts, out));

withConnection(program.command('ring'))
  .description('show the ring: positions, home ranges, replica sets')
  .action((opts) => runRing(clientOf(opts), out));

const members = withConnection(program.command('members')).description('the membership table (and changes to it)').enablePositionalOptions().action((opts) => runMembers(clientOf(opts), out));
withConnection(members.command('log'))
  .description('the history of membership changes')
  .action((opts) => runMembersLog(clientOf(opts), out));
withConnection(members.command('add <id>'))
  .description('add a started node to the ring; its data arrives by transfer')
  .requiredOption('--peer <host:port>', 'its peer address')
  .option('--http <host:port>', 'its HTTP address')
  .option('--no-wait', 'return at once instead of following the transfer')
  .action((id: string, opts) => runMembersAdd(clientOf(opts), id, opts, out));
withConnection(members.command('remove <id>'))
  .description('take a node out of the ring; its keys move to their new replicas')
  .option('--no-wait', 'return at once instead of following the transfer')
  .action((id: string, opts) => runMembersRemove(clientOf(opts), id, opts, out));

withConnection(program.command('shell'))
  .description('interactive shell: put/get/delete/members/ring/status, with history')
  .action((opts) => runShell(clientOf(opts)));

/** Every command under `root`, root first. */
function commandsUnder(root: Command): Command[] {
  return [root, ...root.commands.flatMap((c) => commandsUnder(c as Command))];
}

/** `dynakv members add`: how the operator names a command. */
function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Hands the connection flags given before a command (on the program, or on `members` before
 * `members add`) to that command, when it declares the same flag; a flag given after the command
 * overrides, as it is parsed later. A flag the command does not take is a usage error rather than
 * silently ignored (`dynakv --node X cluster start` would not talk to X).
 */
function handGlobalsDown(parent: Command, sub: Command): void {
  for (const option of program.options) {
    const key = option.attributeName();
    let from: Command | null = parent;
    while (from !== null && from.getOptionValueSource(key) !== 'cli') from = from.parent;
    if (from === null) continue;
    if (sub.options.some((o) => o.attributeName() === key)) sub.setOptionValueWithSource(key, from.getOptionValue(key), 'cli');
    else if (sub.commands.length === 0) sub.error(`error: ${option.long} does not apply to '${commandPath(sub)}'`, { exitCode: USAGE_EXIT_CODE, code: 'dynakv.optionNotApplicable' });
  }
}

for (const command of commandsUnder(program)) {
  // Errors as one line, with the command whose --help explains it; the exit code is set below.
  command
    .exitOverride()
    .showSuggestionAfterError()
    .configureOutput({
      outputError: (text, write) => write(`dynakv: ${terminalSafe(text.trim().replace(/^error: /, '').replace(/\s*\n\s*/g, ' '))} (${commandPath(command)} --help shows the usage)\n`),
    });
  if (command.commands.length > 0) command.hook('preSubcommand', handGlobalsDown);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help asked for (--help, -h, `dynakv help get`): commander says 0. A command line it could not
    // parse, or a group such as `dynakv cluster` without its subcommand (it printed the help on
    // stderr): a usage error.
    process.exitCode = err.exitCode === 0 ? 0 : USAGE_EXIT_CODE;
  } else {
    const message = err instanceof ClientError || err instanceof Error ? err.message : String(err);
    console.error(`dynakv: ${terminalSafe(message)}`);
    process.exitCode = err instanceof ClientError && err.code === 'UNREACHABLE' ? 2 : 1;
    // A failed command has nothing left to do: if some handle still holds the process open (a
    // timer a failed start could not reach), exit anyway rather than linger. Unref'd, so a clean
    // exit is not delayed.
    setTimeout(() => process.exit(), EXIT_AFTER_FAILURE_MS).unref();
  }
}
