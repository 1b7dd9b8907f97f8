/**
 * Bad-input fixtures: each one changes the seed's valid environment in one way and names the
 * property that must be blamed (`at`), the rule that must blame it (`code`) and what the message
 * must say.
 */
import type { ProblemCode } from '../../src/problems.js';
import { fixture, SEED_MACS, type Adapter } from './ovf.js';

export interface BadInput {
  name: string;
  /** Properties set (or overridden) on top of the seed's. */
  set?: Record<string, string>;
  /** Seed properties removed. */
  unset?: string[];
  /** Adapters; the seed's three when omitted. */
  adapters?: Adapter[];
  /** `--deployment`, when the case needs it. */
  deployment?: 'default' | 'frontend';
  /** Where the problem must be reported (`Problem.at`). */
  at: string;
  /** Which rule must report it (`Problem.code`). */
  code: ProblemCode;
  /** What the message must say (the value named, the reason given). */
  reason: RegExp;
}

const SEED_ADAPTERS: Adapter[] = [{ mac: SEED_MACS.management }, { mac: SEED_MACS.workload }, { mac: SEED_MACS.frontend }];
export const TWO_ADAPTERS: Adapter[] = SEED_ADAPTERS.slice(0, 2);
export { SEED_ADAPTERS };

const pem = (name: string) => fixture(`pki/${name}`);

/** `n` distinct /24 networks `first.64.0.0/24`, `first.64.1.0/24`, …, comma-separated: a list of a given size. */
export const cidrs = (n: number, first: number) => Array.from({ length: n }, (_, i) => `${first}.${64 + (i >> 8)}.${i & 255}.0/24`).join(',');

export const BAD_INPUTS: BadInput[] = [
  {
    name: 'management ip without prefix',
    set: { 'network.management_ip': '10.191.181.52' },
    at: 'network.management_ip',
    code: 'not-cidr',
    reason: /not an IPv4 address with a prefix length/,
  },
  {
    name: 'management ip not an address',
    set: { 'network.management_ip': 'ten.1.1.1/20' },
    at: 'network.management_ip',
    code: 'not-ipv4',
    reason: /not an IPv4 address/,
  },
  { name: 'prefix over 32', set: { 'network.workload_ip': '192.168.1.2/33' }, at: 'network.workload_ip', code: 'prefix-too-long', reason: /larger than 32/ },
  {
    name: 'prefix /31 on a NIC',
    set: { 'network.frontend_ip': '172.16.10.2/31' },
    at: 'network.frontend_ip',
    code: 'prefix-out-of-range',
    reason: /between \/1 and \/30/,
  },
  {
    name: 'host address is the network address',
    set: { 'network.management_ip': '10.191.176.0/20' },
    at: 'network.management_ip',
    code: 'network-address',
    reason: /network address of 10\.191\.176\.0\/20/,
  },
  {
    name: 'host address is the broadcast address',
    set: { 'network.frontend_ip': '172.16.10.255/24' },
    at: 'network.frontend_ip',
    code: 'broadcast-address',
    reason: /broadcast address/,
  },
  {
    name: 'management gateway outside its subnet',
    set: { 'network.management_gateway': '10.0.0.1' },
    at: 'network.management_gateway',
    code: 'gateway-outside-subnet',
    reason: /^10\.0\.0\.1 is outside 10\.191\.176\.0\/20 \(management network\)$/,
  },
  {
    name: 'workload gateway equals the NIC address',
    set: { 'network.workload_gateway': '192.168.1.2' },
    at: 'network.workload_gateway',
    code: 'gateway-is-own-address',
    reason: /own workload address/,
  },
  {
    name: 'frontend gateway is the broadcast address',
    set: { 'network.frontend_gateway': '172.16.10.255' },
    at: 'network.frontend_gateway',
    code: 'gateway-not-host',
    reason: /broadcast address of 172\.16\.10\.0\/24/,
  },
  {
    name: 'gateway not an address',
    set: { 'network.management_gateway': '10.191.191' },
    at: 'network.management_gateway',
    code: 'not-ipv4',
    reason: /not an IPv4 address/,
  },
  {
    name: 'NIC subnets overlap',
    set: { 'network.frontend_ip': '192.168.200.2/24', 'network.frontend_gateway': '192.168.200.1' },
    at: 'network.frontend_ip',
    code: 'subnets-overlap',
    reason: /overlaps 192\.168\.0\.0\/16 \(workload network\)/,
  },
  {
    name: 'four nameservers',
    set: { 'network.nameservers': '1.1.1.1, 1.0.0.1, 8.8.8.8, 8.8.4.4' },
    at: 'network.nameservers',
    code: 'too-many-items',
    reason: /at most 3/,
  },
  {
    name: 'nameserver not an address',
    set: { 'network.nameservers': '10.170.16.48, dns.example' },
    at: 'network.nameservers',
    code: 'not-ip',
    reason: /"dns\.example" is not an IP address/,
  },
  { name: 'hostname with underscore', set: { 'network.hostname': 'ha_proxy.local' }, at: 'network.hostname', code: 'hostname-bad-label', reason: /RFC 1123/ },
  {
    name: 'hostname label starting with a hyphen',
    set: { 'network.hostname': '-haproxy.local' },
    at: 'network.hostname',
    code: 'hostname-bad-label',
    reason: /not starting or ending with a hyphen/,
  },
  {
    name: 'hostname with an empty label',
    set: { 'network.hostname': 'haproxy..local' },
    at: 'network.hostname',
    code: 'hostname-empty-label',
    reason: /empty label/,
  },
  {
    name: 'dataplane port 0',
    set: { 'loadbalance.dataplane_port': '0' },
    at: 'loadbalance.dataplane_port',
    code: 'not-port',
    reason: /not a port number from 1 to 65535/,
  },
  { name: 'dataplane port 65536', set: { 'loadbalance.dataplane_port': '65536' }, at: 'loadbalance.dataplane_port', code: 'not-port', reason: /1 to 65535/ },
  {
    name: 'dataplane port not a number',
    set: { 'loadbalance.dataplane_port': '55x6' },
    at: 'loadbalance.dataplane_port',
    code: 'not-port',
    reason: /not a port number/,
  },
  {
    name: 'user with a space',
    set: { 'loadbalance.haproxy_user': 'wcp admin' },
    at: 'loadbalance.haproxy_user',
    code: 'user-bad-character',
    reason: /not a plain user name/,
  },
  { name: 'user missing', unset: ['loadbalance.haproxy_user'], at: 'loadbalance.haproxy_user', code: 'required', reason: /is required/ },
  {
    name: 'API password too short',
    set: { 'loadbalance.haproxy_pwd': 'vmwar' },
    at: 'loadbalance.haproxy_pwd',
    code: 'password-length',
    reason: /5 characters long; it must be 6 to 128/,
  },
  {
    name: 'API password too long',
    set: { 'loadbalance.haproxy_pwd': 'x'.repeat(129) },
    at: 'loadbalance.haproxy_pwd',
    code: 'password-length',
    reason: /129 characters long/,
  },
  { name: 'API password missing', set: { 'loadbalance.haproxy_pwd': '' }, at: 'loadbalance.haproxy_pwd', code: 'required', reason: /is required/ },
  { name: 'root password too short', set: { 'appliance.root_pwd': 'abc' }, at: 'appliance.root_pwd', code: 'password-length', reason: /3 characters long/ },
  {
    name: 'boolean not a boolean',
    set: { 'appliance.permit_root_login': 'maybe' },
    at: 'appliance.permit_root_login',
    code: 'not-boolean',
    reason: /"maybe" is not True, False or prohibit-password/,
  },
  {
    name: 'prohibit-password without a key',
    set: { 'appliance.permit_root_login': 'prohibit-password' },
    at: 'appliance.permit_root_login',
    code: 'root-login-needs-key',
    reason: /is prohibit-password .* but appliance\.ssh_authorized_keys is empty/,
  },
  {
    name: 'SSH key: a private key',
    set: { 'appliance.ssh_authorized_keys': fixture('pki/ca.key') },
    at: 'appliance.ssh_authorized_keys',
    code: 'ssh-private-key',
    reason: /holds a PRIVATE key; .*Nothing of the value is shown here/,
  },
  {
    name: 'SSH key: not a key',
    set: { 'appliance.ssh_authorized_keys': 'admin@workstation' },
    at: 'appliance.ssh_authorized_keys',
    code: 'not-ssh-key',
    reason: /key 1 is not an OpenSSH public key/,
  },
  {
    name: 'SSH key: wrong inner type',
    set: { 'appliance.ssh_authorized_keys': `ssh-rsa ${fixture('ssh/root-key-1.pub').split(' ')[1]} mixed` },
    at: 'appliance.ssh_authorized_keys',
    code: 'ssh-key-blob',
    reason: /key 1 \("mixed"\): its base64 part holds a ssh-ed25519 key, not the ssh-rsa the line names/,
  },
  {
    name: 'CA certificate without key',
    set: { 'appliance.ca_cert': pem('ca.crt') },
    at: 'appliance.ca_cert_key',
    code: 'ca-pair-incomplete',
    reason: /give both/,
  },
  {
    name: 'CA key without certificate',
    set: { 'appliance.ca_cert_key': pem('ca.key') },
    at: 'appliance.ca_cert',
    code: 'ca-pair-incomplete',
    reason: /give both/,
  },
  {
    name: 'CA key of another CA',
    set: { 'appliance.ca_cert': pem('ca.crt'), 'appliance.ca_cert_key': pem('other-ca.key') },
    at: 'appliance.ca_cert_key',
    code: 'ca-key-mismatch',
    reason: /does not belong to appliance\.ca_cert/,
  },
  {
    name: 'certificate that is not a CA',
    set: { 'appliance.ca_cert': pem('leaf.crt'), 'appliance.ca_cert_key': pem('leaf.key') },
    at: 'appliance.ca_cert',
    code: 'ca-not-ca',
    reason: /is not a CA \(basicConstraints CA:TRUE is missing\)/,
  },
  {
    name: 'expired CA',
    set: { 'appliance.ca_cert': pem('expired-ca.crt'), 'appliance.ca_cert_key': pem('expired-ca.key') },
    at: 'appliance.ca_cert',
    code: 'ca-expired',
    reason: /expired on 2001-01-01/,
  },
  {
    name: 'CA certificate not PEM',
    set: { 'appliance.ca_cert': 'hello world', 'appliance.ca_cert_key': pem('ca.key') },
    at: 'appliance.ca_cert',
    code: 'not-pem',
    reason: /is not PEM/,
  },
  {
    name: 'CA certificate with a corrupt body',
    set: { 'appliance.ca_cert': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', 'appliance.ca_cert_key': pem('ca.key') },
    at: 'appliance.ca_cert',
    code: 'certificate-unreadable',
    reason: /not a readable X\.509 certificate/,
  },
  {
    name: 'encrypted CA key',
    set: { 'appliance.ca_cert': pem('ca.crt'), 'appliance.ca_cert_key': pem('ca-encrypted.key') },
    at: 'appliance.ca_cert_key',
    code: 'key-encrypted',
    reason: /encrypted private key/,
  },
  {
    name: 'service range with host bits set',
    set: { 'loadbalance.service_ip_range': '1.2.3.4/28' },
    at: 'loadbalance.service_ip_range',
    code: 'host-bits-set',
    reason: /host bits set .*did you mean 1\.2\.3\.0\/28\?/,
  },
  {
    name: 'service range holding the workload address',
    set: { 'loadbalance.service_ip_range': '192.168.1.0/24' },
    at: 'loadbalance.service_ip_range',
    code: 'range-holds-host',
    reason: /contains 192\.168\.1\.2, the appliance's workload address/,
  },
  {
    name: 'service range holding the workload gateway',
    set: { 'loadbalance.service_ip_range': '192.168.1.0/31' },
    at: 'loadbalance.service_ip_range',
    code: 'range-holds-host',
    reason: /contains 192\.168\.1\.1, the workload gateway/,
  },
  {
    name: 'service range holding a nameserver',
    set: { 'loadbalance.service_ip_range': '192.168.0.0/24, 10.170.16.0/24' },
    at: 'loadbalance.service_ip_range',
    code: 'range-holds-host',
    reason: /contains 10\.170\.16\.48, a nameserver/,
  },
  {
    name: 'service ranges overlapping each other',
    set: { 'loadbalance.service_ip_range': '192.168.0.0/24, 192.168.0.128/25' },
    at: 'loadbalance.service_ip_range',
    code: 'ranges-overlap',
    reason: /192\.168\.0\.128\/25 overlaps 192\.168\.0\.0\/24/,
  },
  { name: 'service range missing', set: { 'loadbalance.service_ip_range': '' }, at: 'loadbalance.service_ip_range', code: 'required', reason: /is required/ },
  {
    name: 'service range far too large',
    set: { 'loadbalance.service_ip_range': '0.0.0.0/0' },
    at: 'loadbalance.service_ip_range',
    code: 'range-too-large',
    reason: /far too large/,
  },
  {
    name: 'service range in loopback',
    set: { 'loadbalance.service_ip_range': '127.1.0.0/24' },
    at: 'loadbalance.service_ip_range',
    code: 'range-not-unicast',
    reason: /loopback range/,
  },
  {
    name: 'service range listed twice',
    set: { 'loadbalance.service_ip_range': '192.168.0.0/24,192.168.0.0/24' },
    at: 'loadbalance.service_ip_range',
    code: 'listed-twice',
    reason: /listed twice/,
  },
  {
    name: 'extra workload network includes the primary one',
    set: { 'network.additional_workload_networks': '192.168.0.0/15' },
    at: 'network.additional_workload_networks',
    code: 'network-includes-workload',
    reason: /includes the primary workload network 192\.168\.0\.0\/16/,
  },
  {
    name: 'extra workload network overlaps management',
    set: { 'network.additional_workload_networks': '10.191.0.0/16' },
    at: 'network.additional_workload_networks',
    code: 'network-overlaps-nic',
    reason: /overlaps the management network/,
  },
  {
    name: 'extra workload network with host bits',
    set: { 'network.additional_workload_networks': '10.30.1.1/16' },
    at: 'network.additional_workload_networks',
    code: 'host-bits-set',
    reason: /did you mean 10\.30\.0\.0\/16/,
  },
  {
    name: 'newline in the hostname',
    set: { 'network.hostname': 'haproxy\nlocal' },
    at: 'network.hostname',
    code: 'control-character',
    reason: /control character \(newline\)/,
  },
  {
    name: 'newline injected into the user',
    set: { 'loadbalance.haproxy_user': 'wcp\n    user evil insecure-password x' },
    at: 'loadbalance.haproxy_user',
    code: 'control-character',
    reason: /control character \(newline\)/,
  },
  {
    name: 'carriage return in a password',
    set: { 'loadbalance.haproxy_pwd': 'vmware\rvmware' },
    at: 'loadbalance.haproxy_pwd',
    code: 'control-character',
    reason: /control character \(carriage return\)/,
  },
  {
    name: 'tab in a gateway',
    set: { 'network.workload_gateway': '192.168.1.1\t#' },
    at: 'network.workload_gateway',
    code: 'control-character',
    reason: /control character \(tab\)/,
  },
  {
    name: 'four adapters',
    adapters: [...SEED_ADAPTERS, { mac: '00:50:56:b1:00:99' }],
    at: 'EthernetAdapterSection',
    code: 'adapter-count',
    reason: /lists 4 network adapters; the appliance takes 2 \(default\) or 3 \(frontend\)/,
  },
  {
    name: 'NTP server not a host name',
    set: { 'network.ntp_servers': 'ntp_1.example' },
    at: 'network.ntp_servers',
    code: 'hostname-bad-label',
    reason: /RFC 1123/,
  },
  // Issue #9, class 4 and class 1 (appliance.ca_cert).
  {
    name: 'user with a colon (basic auth could never succeed)',
    set: { 'loadbalance.haproxy_user': 'wcp:admin' },
    at: 'loadbalance.haproxy_user',
    code: 'user-bad-character',
    reason: /contains a colon/,
  },
  {
    name: 'user with a non-ASCII letter',
    set: { 'loadbalance.haproxy_user': 'wcp-ädmin' },
    at: 'loadbalance.haproxy_user',
    code: 'user-bad-character',
    reason: /printable ASCII/,
  },
  {
    name: 'user with DEL',
    set: { 'loadbalance.haproxy_user': 'wcp\u007f' },
    at: 'loadbalance.haproxy_user',
    code: 'control-character',
    reason: /control character/,
  },
  {
    name: 'user longer than 64 characters',
    set: { 'loadbalance.haproxy_user': 'u'.repeat(65) },
    at: 'loadbalance.haproxy_user',
    code: 'user-too-long',
    reason: /65 characters long/,
  },
  {
    name: 'root password of one space',
    set: { 'appliance.root_pwd': ' ' },
    at: 'appliance.root_pwd',
    code: 'password-length',
    reason: /1 characters long; it must be 6 to 128/,
  },
  {
    name: 'API password of spaces only, too short',
    set: { 'loadbalance.haproxy_pwd': '   ' },
    at: 'loadbalance.haproxy_pwd',
    code: 'password-length',
    reason: /3 characters long/,
  },
  {
    name: 'CA certificate with its private key pasted after it',
    set: { 'appliance.ca_cert': pem('ca.crt') + pem('ca.key'), 'appliance.ca_cert_key': pem('ca.key') },
    at: 'appliance.ca_cert',
    code: 'pem-foreign-block',
    reason: /holds a PRIVATE KEY block besides the certificate/,
  },
  {
    name: 'CA certificate with its private key pasted before it',
    set: { 'appliance.ca_cert': pem('ca.key') + pem('ca.crt'), 'appliance.ca_cert_key': pem('ca.key') },
    at: 'appliance.ca_cert',
    code: 'pem-foreign-block',
    reason: /holds a PRIVATE KEY block/,
  },
  {
    name: 'CA certificate with a traditional RSA key, spaces for newlines',
    set: { 'appliance.ca_cert': (pem('ca.crt') + pem('ca-rsa-traditional.key')).replace(/\n/g, ' '), 'appliance.ca_cert_key': pem('ca.key') },
    at: 'appliance.ca_cert',
    code: 'pem-foreign-block',
    reason: /holds a RSA PRIVATE KEY block/,
  },
  {
    name: 'CA certificate and key as base64 of the bundle',
    set: { 'appliance.ca_cert': Buffer.from(pem('ca.crt') + pem('ca.key')).toString('base64'), 'appliance.ca_cert_key': pem('ca.key') },
    at: 'appliance.ca_cert',
    code: 'pem-foreign-block',
    reason: /holds a PRIVATE KEY block/,
  },
  {
    name: 'CA certificate chain of two',
    set: { 'appliance.ca_cert': pem('ca.crt') + pem('other-ca.crt'), 'appliance.ca_cert_key': pem('ca.key') },
    at: 'appliance.ca_cert',
    code: 'pem-several-blocks',
    reason: /holds 2 certificates; give exactly one/,
  },
  {
    name: 'CA certificate with text around it',
    set: { 'appliance.ca_cert': `Bag Attributes\n    localKeyID: 01\nsubject=/CN=ca\n${pem('ca.crt')}`, 'appliance.ca_cert_key': pem('ca.key') },
    at: 'appliance.ca_cert',
    code: 'pem-text-outside',
    reason: /text outside the -----BEGIN CERTIFICATE----- block/,
  },
  {
    name: 'CA certificate with a BEGIN and no END after it',
    set: { 'appliance.ca_cert': `${pem('ca.crt')}-----BEGIN PRIVATE KEY-----\nAAAA`, 'appliance.ca_cert_key': pem('ca.key') },
    at: 'appliance.ca_cert',
    code: 'pem-text-outside',
    reason: /text outside/,
  },
  {
    name: 'CA key field holding two keys',
    set: { 'appliance.ca_cert': pem('ca.crt'), 'appliance.ca_cert_key': pem('ca.key') + pem('other-ca.key') },
    at: 'appliance.ca_cert_key',
    code: 'pem-several-blocks',
    reason: /holds 2 private keys/,
  },
  {
    name: 'CA key field holding the certificate too',
    set: { 'appliance.ca_cert': pem('ca.crt'), 'appliance.ca_cert_key': pem('ca.key') + pem('ca.crt') },
    at: 'appliance.ca_cert_key',
    code: 'pem-foreign-block',
    reason: /holds a CERTIFICATE block/,
  },
  {
    name: '1,001 service ranges (more than the rule band holds)',
    set: { 'loadbalance.service_ip_range': Array.from({ length: 1001 }, (_, i) => `100.${64 + (i >> 8)}.${i & 255}.0/24`).join(',') },
    at: 'loadbalance.service_ip_range',
    code: 'too-many-items',
    reason: /1001 ranges given; at most 1000/,
  },
  {
    name: '1,001 additional workload networks',
    set: { 'network.additional_workload_networks': Array.from({ length: 1001 }, (_, i) => `10.${100 + (i >> 8)}.${i & 255}.0/24`).join(',') },
    at: 'network.additional_workload_networks',
    code: 'too-many-items',
    reason: /1001 networks given; at most 1000/,
  },
  {
    name: '17 NTP servers',
    set: { 'network.ntp_servers': Array.from({ length: 17 }, (_, i) => `ntp${i}.example`).join(',') },
    at: 'network.ntp_servers',
    code: 'too-many-items',
    reason: /17 NTP servers given; at most 16/,
  },
  {
    name: 'a value longer than 65535 characters',
    set: { 'network.ntp_servers': 'n'.repeat(70_000) },
    at: 'network.ntp_servers',
    code: 'value-too-long',
    reason: /is 70000 characters long; at most 65535/,
  },
  {
    name: 'extra workload network overlapping a service range',
    set: { 'network.additional_workload_networks': '192.168.0.0/25' },
    at: 'network.additional_workload_networks',
    code: 'network-overlaps-range',
    reason: /192\.168\.0\.0\/25 overlaps the load-balancer range 192\.168\.0\.0\/24/,
  },
  {
    name: 'service range inside an extra workload network',
    set: { 'loadbalance.service_ip_range': '10.40.1.0/24', 'network.additional_workload_networks': '10.40.0.0/16' },
    at: 'network.additional_workload_networks',
    code: 'network-overlaps-range',
    reason: /10\.40\.0\.0\/16 overlaps the load-balancer range 10\.40\.1\.0\/24/,
  },
  {
    name: 'deployment option against the adapter count',
    adapters: TWO_ADAPTERS,
    deployment: 'frontend',
    at: 'EthernetAdapterSection',
    code: 'adapter-count',
    reason: /lists 2 network adapters, but the frontend deployment has 3 NICs/,
  },
];
