/**
 * The `haproxy-appliance` command line: argument parsing, dispatch, and the mapping of failures
 * to exit codes (0 success, 1 a check or an apply failed, 2 bad input, usage, unreachable host).
 * Commands are loaded lazily so start-up (part of first-boot time) pays only for the one used.
 */
import { parseArgs } from 'node:util';
import { ApplyError, EXIT, InputError, inputError } from '../errors.js';

import { VERSION } from './version.js';
import type { Command, Options, Values } from './command.js';

export { VERSION };
export type { Values };

const COMMON: Options = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
};

const INGEST_OPTIONS: Options = {
  'ovf-env': { type: 'string' },
  deployment: { type: 'string' },
  json: { type: 'boolean' },
};

const INGEST_USAGE = `  --ovf-env FILE        read the OVF environment from FILE (default: guestinfo, then the ISO
                        transport, then the file named by $OVF_ENV)
  --deployment NAME     default (2 NICs) or frontend (3 NICs); default: from the adapter count
  --json                machine-readable output`;

export const COMMANDS: Record<string, Command> = {
  validate: {
    summary: 'read and validate the OVF environment; print the normalized configuration',
    usage: `haproxy-appliance validate [--ovf-env FILE] [--deployment NAME] [--json]

Reads the OVF environment, validates every property and prints the normalized configuration
with secrets redacted. Every problem is listed, one per line, naming its property.

${INGEST_USAGE}`,
    options: INGEST_OPTIONS,
    run: async (values) => (await import('./validate.js')).validateCommand(values),
  },
  provision: {
    summary: 'make this machine (or a --root sandbox) match the OVF environment',
    usage: `haproxy-appliance provision [--ovf-env FILE] [--root DIR] [--dry-run] [--json] [--nics SPEC] [--boot]
          [--dataplaneapi-version X.Y.Z]

Reads and validates the OVF environment (bad input: exit 2, nothing changed), then makes the
machine match it.

${INGEST_USAGE}
  --root DIR            sandbox: read and write every file under DIR (no link followed out of
                        it), run nothing from DIR, probe nothing of this host; needs --ovf-env
  --dry-run             print what would change as a unified diff; change nothing
  --nics management=MAC,workload=MAC[,frontend=MAC]
                        which NIC plays which role (default: the OVF environment's adapters,
                        NICS= in /etc/default/haproxy-appliance, the role names, the PCI slots)
  --boot                run as the first-boot unit does: while the system boots, services start
                        after the agent, so none is reloaded (once it is up, a rerun as usual)
  --dataplaneapi-version X.Y.Z
                        the installed Data Plane API's version, which decides its configuration
                        form (default: \`dataplaneapi --version\`; with --root, the image's
                        /var/lib/dpkg/status, else unknown: the 2.1 flags form, with a warning)`,
    options: {
      ...INGEST_OPTIONS,
      root: { type: 'string' },
      'dry-run': { type: 'boolean' },
      nics: { type: 'string' },
      boot: { type: 'boolean' },
      'dataplaneapi-version': { type: 'string' },
    },
    run: async (values) => (await import('./provision.js')).provisionCommand(values),
  },
  status: {
    summary: 'on the appliance: how the last provision run ended, what it changed, versions, services',
    usage: `haproxy-appliance status [--wait [SECONDS]] [--json] [--root DIR]

Shows the outcome of the last provision run (ok, failed, or running), when it ran, where its OVF
environment came from, what it changed, its warnings and its errors (each naming its property),
the agent's, haproxy's and the Data Plane API's versions, and the state of haproxy,
dataplaneapi and systemd-networkd. Reads only; never takes the run lock.

  --wait [SECONDS]      block until no provision run is in progress (the first-boot unit has
                        finished, the run lock is free), at most SECONDS when given
  --json                machine-readable output
  --root DIR            read state.json, the lock and the versions under DIR (an image, a
                        sandbox); runs nothing from it and asks systemd nothing
Exit status: 0 ok, 1 the last run failed, 2 no run recorded yet or usage error, 3 a run is
still in progress (without --wait, or SECONDS passed first).`,
    options: { wait: { type: 'boolean' }, json: { type: 'boolean' }, root: { type: 'string' } },
    allowPositionals: true,
    run: async (values, positionals) => (await import('./status.js')).statusCommand(values, positionals),
  },
  'ovf-descriptor': {
    summary: 'print the OVF ProductSections and DeploymentOptionSection for the OVA descriptor',
    usage: `haproxy-appliance ovf-descriptor

Prints, as XML, the DeploymentOptionSection (default: 2 NICs, frontend: 3 NICs) and the
appliance/network/loadbalance ProductSections generated from the agent's own property
declarations, so the OVA descriptor and the agent never drift apart.`,
    options: {},
    run: async () => {
      const { renderOvfDescriptor } = await import('../config/descriptor.js');
      process.stdout.write(renderOvfDescriptor(VERSION));
      return EXIT.ok;
    },
  },
  verify: {
    summary: 'check running appliances over SSH against their properties, with causes and remedies',
    usage: `haproxy-appliance verify HOST... [--user root] [--port 22] [--identity FILE]
          [--password-env VAR] [--known-hosts FILE] [--accept-new] [--expect OVF_ENV_FILE]
          [--inventory FILE] [--concurrency N] [--timeout S] [--json] [--junit FILE]
          [--verbose] [--api-user USER] [--api-password-env VAR] [--wait SECONDS] [--nagios]
          [--support-bundle DIR]

Logs in to each appliance over SSH, collects its state in one round trip and checks it against
its own /var/lib/haproxy-appliance/state.json (or --expect), check by check, with the cause and
what to do for each failure. HOST is [user@]host[:port].

  --user USER           SSH user (default root)
  --port PORT           SSH port (default 22)
  --identity FILE       private key to log in with (default: ssh-agent, then ~/.ssh/id_*)
  --password-env VAR    log in with the password in environment variable VAR
  --known-hosts FILE    known_hosts to check host keys against (default ~/.ssh/known_hosts
                        and /etc/ssh/ssh_known_hosts); hashed entries are understood
  --accept-new          accept and record the key of a host not yet known (a changed key is
                        always refused)
  --expect FILE         check against this OVF environment instead of the appliance's
                        state.json (one host only); its Data Plane API credentials are used
  --inventory FILE      hosts from a file: one per line, or an Ansible INI/YAML inventory
  --concurrency N       hosts checked at once (default 10)
  --timeout S           per-host limit for connecting and for collecting, seconds (default 15)
  --api-user USER       Data Plane API user (default: loadbalance.haproxy_user)
  --api-password-env VAR  Data Plane API password from environment variable VAR
  --json                the report as JSON (every result)
  --junit FILE          also write the report as JUnit XML to FILE
  --verbose             every result on its own line, passing ones too; without it a check
                        with more than 10 results (one per VIP, say) is one summary line that
                        names those that did not pass
  --wait SECONDS        check each host again (every 2 s) until all its checks pass, or report
                        its last result after SECONDS; a host not reachable yet (SSH not up,
                        connection refused) is tried again too, an authentication failure or a
                        refused host key is not
  --nagios              one host, as a monitoring plugin (Nagios, Icinga, Checkmk): one line
                        \`HAPROXY-APPLIANCE OK|WARNING|CRITICAL|UNKNOWN - ... | perfdata\`, then the
                        failures; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (unreachable,
                        authentication, host key, usage)
  --support-bundle DIR  instead of checking, run haproxy-appliance support on each host and
                        write DIR/HOST.tar.gz (0600); exit 1 when a host reached gave none
Exit status: 0 all checks passed (warnings allowed), 1 a check failed, 2 usage error or a host
that could not be reached, authenticated or trusted (with --nagios: as above).`,
    options: {
      user: { type: 'string' },
      port: { type: 'string' },
      identity: { type: 'string' },
      'password-env': { type: 'string' },
      'known-hosts': { type: 'string' },
      'accept-new': { type: 'boolean' },
      expect: { type: 'string' },
      inventory: { type: 'string' },
      concurrency: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      junit: { type: 'string' },
      verbose: { type: 'boolean' },
      'api-user': { type: 'string' },
      'api-password-env': { type: 'string' },
      wait: { type: 'string' },
      nagios: { type: 'boolean' },
      'support-bundle': { type: 'string' },
    },
    allowPositionals: true,
    run: async (values, positionals) => (await import('./verify.js')).verifyCommand(values, positionals),
  },
  support: {
    summary: 'write a support bundle of this appliance (.tar.gz: journals, network, configuration; secrets removed)',
    usage: `haproxy-appliance support [--output FILE|-] [--root DIR] [--ovf-env FILE]

Collects what support needs into one .tar.gz, summary.txt first: the journals of the agent,
haproxy, dataplaneapi, networkd and sshd (this boot and the previous one, the last 2000 lines
each), the network and time state (ip, ss, networkctl, resolvectl, timedatectl), haproxy -vv and
-c, state.json, the generated configuration and certificates, and system facts. Private keys,
password hashes, the Data Plane API password and the OVF environment's secret values are
removed (docs/operations.md). Runs as root; takes a few seconds.

  --output FILE         where to write it, mode 0600 (default:
                        /var/tmp/haproxy-appliance-support-HOST-TIME.tar.gz); - for stdout
  --root DIR            read the files under DIR (a sandbox); commands and facts are this machine's
  --ovf-env FILE        the OVF environment whose secret values are removed (default: the
                        transports provision reads; under --root, none)`,
    options: { output: { type: 'string' }, root: { type: 'string' }, 'ovf-env': { type: 'string' } },
    run: async (values) => (await import('./support.js')).supportCommand(values),
  },
  properties: {
    summary: 'print the reference of every OVF property (Markdown, as in docs/properties.md)',
    usage: 'haproxy-appliance properties',
    options: {},
    run: async () => {
      const { renderPropertiesMarkdown } = await import('../config/docs.js');
      process.stdout.write(renderPropertiesMarkdown());
      return EXIT.ok;
    },
  },
};

function mainUsage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return `haproxy-appliance ${VERSION}: first-boot agent and verifier for the HAProxy load-balancer appliance

Usage: haproxy-appliance COMMAND [OPTIONS]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  .join('\n')}

Every command takes --help and --version. Exit status: 0 success, 1 a check or an apply
failed, 2 bad input or usage.
`;
}

/** `verify --nagios`: a usage error is the plugin's UNKNOWN (exit 3), on stdout as its one line. */
async function nagiosUsage(name: string, rest: readonly string[], message: string): Promise<number | undefined> {
  if (name !== 'verify' || !rest.includes('--nagios')) return undefined;
  const { nagiosUsageLine, NAGIOS_EXIT } = await import('../verify/report.js');
  process.stdout.write(nagiosUsageLine(message));
  return NAGIOS_EXIT.UNKNOWN;
}

async function usageError(name: string, err: InputError, json: boolean): Promise<number> {
  const { printInputError } = await import('./output.js');
  printInputError(name, err, json);
  return EXIT.input;
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainUsage());
    return name === undefined ? EXIT.input : EXIT.ok;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  // Usage errors are input errors too: with --json they are a JSON document like any other.
  const json = rest.includes('--json');
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    const message = `unknown command ${JSON.stringify(name)}; run haproxy-appliance --help`;
    if (json) return usageError(name, inputError('COMMAND', 'unknown-command', message, message), true);
    process.stderr.write(`haproxy-appliance: ${message}\n`);
    return EXIT.input;
  }
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...COMMON, ...command.options },
      allowPositionals: command.allowPositionals ?? false,
      strict: true,
    }) as typeof parsed;
  } catch (err) {
    const message = (err as Error).message;
    const code = (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? 'unknown-option' : 'bad-usage';
    // parseArgs names the option in quotes: "Unknown option '--foo'", "Option '--root <value>' argument missing".
    const at = /'(-[^' ]+)/u.exec(message)?.[1] ?? 'arguments';
    const unknown = await nagiosUsage(name, rest, message);
    if (unknown !== undefined) return unknown;
    if (json) return usageError(name, inputError(at, code, message, message), true);
    process.stderr.write(`haproxy-appliance ${name}: ${message}\nUsage: ${command.usage.split('\n')[0]}\n`);
    return EXIT.input;
  }
  if (parsed.values.help) {
    process.stdout.write(`Usage: ${command.usage}\n  -h, --help            show this help\n  -V, --version         show the version\n`);
    return EXIT.ok;
  }
  if (parsed.values.version) {
    process.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  try {
    return await command.run(parsed.values, parsed.positionals);
  } catch (err) {
    if (err instanceof InputError) {
      const unknown = await nagiosUsage(name, rest, err.message);
      if (unknown !== undefined) return unknown;
      const { printInputError } = await import('./output.js');
      printInputError(name, err, parsed.values.json === true);
      return EXIT.input;
    }
    if (err instanceof ApplyError) {
      process.stderr.write(`haproxy-appliance ${name}: ${err.message}\n`);
      return EXIT.failed;
    }
    throw err;
  }
}
