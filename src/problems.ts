/**
 * The one report type of bad input, for errors and warnings alike (like Ignition's vcontext
 * `Entry{Kind, Message, Context}` and cloud-init's `SchemaProblem`), and the table of every
 * problem code. The codes are API: `--json` prints them, and scripts and tests match on them,
 * never on the English message. Add a code here, with its one-line meaning, before using it;
 * never change the meaning of one in use.
 */

/** Every problem code, with its one-line meaning. */
export const PROBLEM_CODES = {
  // Reading the OVF environment (src/ingest): the document as a whole, its sections.
  'no-environment': 'no transport (guestinfo, ISO, OVF_ENV) had an OVF environment',
  'not-a-file': 'the named file is a directory, a FIFO or a device, not a regular file',
  'document-too-large': 'the document is larger than the 1 MiB limit',
  'bad-encoding': 'the document is not valid in its encoding, or declares an unsupported or contradictory one',
  'not-xml': 'the document is not well-formed XML',
  'not-ovf-environment': 'the document is XML but not an OVF environment',
  'too-many-properties': 'the PropertySection has more than 256 properties',
  'duplicate-property-section': 'the document has more than one PropertySection',
  'duplicate-property': 'a property key is given twice',
  'too-many-adapters': 'the EthernetAdapterSection lists more than 16 adapters',
  'adapter-not-mac': 'an adapter of the EthernetAdapterSection has a MAC that is not one',
  'duplicate-adapter-mac': 'two adapters of the EthernetAdapterSection have the same MAC',
  // One property's value (src/config/properties.ts).
  'value-too-long': 'the value is longer than the 65,535 characters any property takes',
  'control-character': 'a single-line value holds a control character',
  'password-length': 'a password is not 6 to 128 characters long',
  'not-boolean': 'the value is not True or False (or 1/0, yes/no, on/off)',
  'hostname-too-long': 'the host name is longer than 253 characters',
  'hostname-empty-label': 'the host name has an empty label (two dots in a row, a leading dot)',
  'hostname-bad-label': 'a label of the host name is not 1-63 letters, digits or inner hyphens (RFC 1123)',
  'hostname-numeric': 'the last label of the host name is all digits',
  'not-cidr': 'the value is not an IPv4 address with a prefix length, like 10.0.0.2/24',
  'not-ipv4': 'the value (or the address of a CIDR) is not an IPv4 address',
  'not-ip': 'the value is not an IPv4 or IPv6 address',
  'prefix-too-long': 'the prefix length is larger than 32',
  'prefix-out-of-range': 'an interface address has a prefix length outside /1 to /30',
  'network-address': 'an interface address is the network address of its subnet',
  'broadcast-address': 'an interface address is the broadcast address of its subnet',
  'host-bits-set': 'a network has host bits set (did you mean its network address?)',
  'too-many-items': 'a list property has more items than it takes',
  'listed-twice': 'a list property names the same item twice',
  'not-pem': 'a PEM property holds no PEM block of the expected kind',
  'pem-foreign-block': 'a PEM property holds a block of another kind (a key with the certificate)',
  'pem-several-blocks': 'a PEM property holds more than one certificate or key',
  'pem-text-outside': 'a PEM property holds text outside its PEM block',
  'key-encrypted': 'the private key is encrypted',
  'certificate-unreadable': 'the certificate block is not a readable X.509 certificate',
  'key-unreadable': 'the private key block is not a readable private key',
  'not-port': 'the value is not a port number from 1 to 65535',
  'user-too-long': 'the Data Plane API user is longer than 64 characters',
  'ssh-private-key': 'appliance.ssh_authorized_keys holds a private key (refused, never shown)',
  'not-ssh-key': 'an entry of appliance.ssh_authorized_keys is not an OpenSSH public key line',
  'ssh-key-type': 'an SSH key is of a type the appliance does not take (DSA, a certificate)',
  'ssh-key-options': 'an SSH key line starts with authorized_keys options (from=, command=, …)',
  'ssh-key-base64': "an SSH key's second part is not base64",
  'ssh-key-blob': "an SSH key's base64 part is not a key of the type the line names",
  'ssh-key-weak': 'an SSH RSA key has fewer than 2048 bits',
  'user-bad-character': 'the Data Plane API user holds a space, colon, quote, backslash, # or non-ASCII character',
  required: 'a required property is not set',
  'invalid-value': "the value is not of the property's form (a rule without a more precise code)",
  // Relations between properties (src/config/validate.ts).
  'adapter-count': 'the number of network adapters does not match the deployment (2 default, 3 frontend)',
  'gateway-outside-subnet': "a gateway is outside its NIC's subnet",
  'gateway-is-own-address': "a gateway is the appliance's own address on that NIC",
  'gateway-not-host': 'a gateway is the network or broadcast address of its subnet',
  'subnets-overlap': "two NICs' subnets overlap",
  'ca-pair-incomplete': 'only one of appliance.ca_cert and appliance.ca_cert_key is set',
  'ca-not-ca': 'the certificate is not a CA (basicConstraints CA:TRUE missing)',
  'ca-expired': 'the CA certificate has expired',
  'ca-not-yet-valid': 'the CA certificate is not valid yet',
  'ca-key-mismatch': 'the CA key does not belong to the CA certificate',
  'root-login-needs-key': 'appliance.permit_root_login is prohibit-password but appliance.ssh_authorized_keys is empty (root could not log in)',
  'range-too-large': 'a load-balancer range is larger than a /8',
  'range-not-unicast': 'a load-balancer range is loopback, multicast, link-local or otherwise reserved',
  'range-holds-host': 'a load-balancer range contains a NIC address, a gateway or a nameserver',
  'ranges-overlap': 'two load-balancer ranges overlap',
  'network-includes-workload': 'an additional workload network includes the primary workload network',
  'network-overlaps-nic': "an additional workload network overlaps another NIC's network",
  'network-overlaps-range': 'an additional workload network overlaps a load-balancer range',
  'route-syntax': 'a static route is not `CIDR via GATEWAY`',
  'route-default': 'a static route is a default route (0.0.0.0/0): the only default route is via network.management_gateway',
  'route-not-unicast': 'a static route leads to a loopback, multicast, link-local or otherwise reserved network',
  'route-gateway-unknown': "no static NIC's subnet holds a static route's gateway (a NIC by DHCP has no subnet known in advance)",
  'route-gateway-not-host': "a static route's gateway is the appliance's own address, or the network or broadcast address of its subnet",
  'route-gateway-in-range': "a static route's gateway lies in a load-balancer range (the appliance answers for it)",
  'route-overlaps-nic': "a static route's network overlaps a NIC's network",
  'route-overlaps-range': "a static route's network overlaps a load-balancer range",
  'route-overlaps-network': "a static route's network overlaps an additional workload network",
  'routes-overlap': "two static routes' networks overlap",
  'more-problems': 'more problems of the same property, counted rather than listed',
  // Warnings of validation.
  'unknown-property': 'a property the appliance does not read (ignored)',
  'unknown-properties': 'many properties the appliance does not read (ignored, counted)',
  'ignored-in-deployment': 'a frontend property set in the default deployment (ignored)',
  'root-password-unset': "appliance.root_pwd is not set: the image's root password is kept",
  'gateway-unset': 'a static NIC has no gateway',
  'dataplane-any-address': 'the management NIC uses DHCP, so the Data Plane API listens on every address',
  // Warnings of planning, about the machine.
  'dataplaneapi-missing': 'the Data Plane API binary is not installed: its unit is written but left disabled',
  'dataplaneapi-version-unknown': "the Data Plane API's version could not be asked: the 2.1 flags form is used",
  'dataplaneapi-version-unreadable': "the Data Plane API's --version output has no version: the 2.1 flags form is used",
  'time-not-synchronized': 'NTP servers are set but the clock was not synchronized within the wait; certificates were made anyway (backdated)',
  // NIC identities (src/facts/nics.ts): --nics, NICS=, the adapters and the live machine.
  'nics-empty': '--nics or NICS= is empty',
  'nics-not-role-mac': 'an item of --nics or NICS= is not ROLE=MAC',
  'nics-unknown-role': 'an item of --nics or NICS= names a role that is not management, workload or frontend',
  'not-mac': 'the value is not a MAC address',
  'nics-role-twice': 'a role is given twice in --nics or NICS=',
  'nics-unknown': 'nothing tells which NIC is which (no adapters, no role names, no PCI slots)',
  'nics-roles-mismatch': "the NICs named are not the deployment's roles",
  'nics-mac-twice': 'one MAC is given for two roles',
  'nic-mac-unknown': "a NIC's MAC is not on this machine",
  'nic-count': 'this machine has another number of NICs than the deployment',
  'nic-name-taken': "an interface holds a role name but is not that role's NIC",
  // Options of the command line (src/cli).
  'unknown-command': "the command is not one of haproxy-appliance's",
  'unknown-option': 'an option the command does not take',
  'bad-usage': 'an option without its value, a stray argument, or an option given wrongly',
  'not-deployment': '--deployment is not default or frontend',
  'not-version': '--dataplaneapi-version is not a version like 2.1.0',
  'not-directory': '--root is not a directory',
  'root-is-live-system': '--root resolves to /, the live system',
  'root-needs-ovf-env': '--root is given without --ovf-env',
  unreadable: 'a file could not be read',
  'file-too-large': 'a file is larger than the command reads',
  'path-refused': 'a path under --root (or on the machine) leads out of the root, or is not a regular file',
  'not-number': 'an option is not a whole number in its range',
  'not-env-name': 'a --*-env option is not the name of an environment variable',
  'env-unset': 'the environment variable named by a --*-env option is not set',
  'not-user-name': '--user is not a user name',
  'no-host': 'verify was given no host',
  'too-many-hosts': 'more hosts than verify takes at once (10,000), or a host pattern that makes too many',
  'expect-one-host': '--expect is given with more than one host',
  'nagios-one-host': '--nagios is given with more than one host (a plugin checks one service)',
  'no-credentials': 'no SSH key, agent or password to log in with',
  'identity-unusable': 'the --identity key cannot be read or used',
  'needs-root': 'the command reads root-only files and was run by another user',
  'output-unwritable': 'the --output file or the --support-bundle folder cannot be written',
  // Inventories (src/verify/inventory.ts) and HOST arguments.
  'not-utf8': 'the file is not UTF-8 text',
  'empty-host': 'a host is empty, or has a port but no host',
  'empty-user': 'a host has an empty user before @',
  'not-host': 'a host is not a host name or address',
  'host-range-bad': 'a host range cannot be expanded (step 0, mixed bounds, or empty)',
  'inventory-syntax': 'the inventory is neither a valid INI nor YAML inventory at this line',
  'inventory-shape': 'a group, hosts, children or vars entry of a YAML inventory has the wrong type',
  'group-loop': 'a group is its own ancestor',
  'groups-too-deep': 'groups nest deeper than 50 levels',
  'empty-inventory': 'the inventory lists no hosts',
} as const satisfies Record<string, string>;

export type ProblemCode = keyof typeof PROBLEM_CODES;
export type Severity = 'error' | 'warning';

/**
 * One problem with the input. `at` says where: a property key (`network.management_ip`), a part
 * of the document (`OVF environment`, `PropertySection`, `EthernetAdapterSection`), a command-line
 * option (`--nics`, `--root`), a file and line (`hosts.ini:3`) or `NICS in FILE`. `message`
 * completes the sentence "<at>: …" for a human; `code` is what a program matches on.
 */
export interface Problem {
  at: string;
  message: string;
  severity: Severity;
  code: ProblemCode;
}

export function problem(at: string, code: ProblemCode, message: string): Problem {
  return { at, message, severity: 'error', code };
}

export function warning(at: string, code: ProblemCode, message: string): Problem {
  return { at, message, severity: 'warning', code };
}

/** `at: message`, the one-line form every problem and warning is printed in. */
export function formatProblem(p: Problem): string {
  return `${p.at}: ${p.message}`;
}

export function isProblemCode(code: string): code is ProblemCode {
  return Object.hasOwn(PROBLEM_CODES, code);
}
