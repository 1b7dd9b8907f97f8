/**
 * Bad-input fixtures: each one changes the seed's valid environment in one way and names the
 * property that must be blamed and the reason that must be given.
 */
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
  property: string;
  reason: RegExp;
}

const SEED_ADAPTERS: Adapter[] = [{ mac: SEED_MACS.management }, { mac: SEED_MACS.workload }, { mac: SEED_MACS.frontend }];
export const TWO_ADAPTERS: Adapter[] = SEED_ADAPTERS.slice(0, 2);
export { SEED_ADAPTERS };

const pem = (name: string) => fixture(`pki/${name}`);

export const BAD_INPUTS: BadInput[] = [
  { name: 'management ip without prefix', set: { 'network.management_ip': '10.191.181.52' }, property: 'network.management_ip', reason: /not an IPv4 address with a prefix length/ },
  { name: 'management ip not an address', set: { 'network.management_ip': 'ten.1.1.1/20' }, property: 'network.management_ip', reason: /not an IPv4 address/ },
  { name: 'prefix over 32', set: { 'network.workload_ip': '192.168.1.2/33' }, property: 'network.workload_ip', reason: /larger than 32/ },
  { name: 'prefix /31 on a NIC', set: { 'network.frontend_ip': '172.16.10.2/31' }, property: 'network.frontend_ip', reason: /between \/1 and \/30/ },
  { name: 'host address is the network address', set: { 'network.management_ip': '10.191.176.0/20' }, property: 'network.management_ip', reason: /network address of 10\.191\.176\.0\/20/ },
  { name: 'host address is the broadcast address', set: { 'network.frontend_ip': '172.16.10.255/24' }, property: 'network.frontend_ip', reason: /broadcast address/ },
  { name: 'management gateway outside its subnet', set: { 'network.management_gateway': '10.0.0.1' }, property: 'network.management_gateway', reason: /^10\.0\.0\.1 is outside 10\.191\.176\.0\/20 \(management network\)$/ },
  { name: 'workload gateway equals the NIC address', set: { 'network.workload_gateway': '192.168.1.2' }, property: 'network.workload_gateway', reason: /own workload address/ },
  { name: 'frontend gateway is the broadcast address', set: { 'network.frontend_gateway': '172.16.10.255' }, property: 'network.frontend_gateway', reason: /broadcast address of 172\.16\.10\.0\/24/ },
  { name: 'gateway not an address', set: { 'network.management_gateway': '10.191.191' }, property: 'network.management_gateway', reason: /not an IPv4 address/ },
  { name: 'NIC subnets overlap', set: { 'network.frontend_ip': '192.168.200.2/24', 'network.frontend_gateway': '192.168.200.1' }, property: 'network.frontend_ip', reason: /overlaps 192\.168\.0\.0\/16 \(workload network\)/ },
  { name: 'four nameservers', set: { 'network.nameservers': '1.1.1.1, 1.0.0.1, 8.8.8.8, 8.8.4.4' }, property: 'network.nameservers', reason: /at most 3/ },
  { name: 'nameserver not an address', set: { 'network.nameservers': '10.170.16.48, dns.example' }, property: 'network.nameservers', reason: /"dns\.example" is not an IP address/ },
  { name: 'hostname with underscore', set: { 'network.hostname': 'ha_proxy.local' }, property: 'network.hostname', reason: /RFC 1123/ },
  { name: 'hostname label starting with a hyphen', set: { 'network.hostname': '-haproxy.local' }, property: 'network.hostname', reason: /not starting or ending with a hyphen/ },
  { name: 'hostname with an empty label', set: { 'network.hostname': 'haproxy..local' }, property: 'network.hostname', reason: /empty label/ },
  { name: 'dataplane port 0', set: { 'loadbalance.dataplane_port': '0' }, property: 'loadbalance.dataplane_port', reason: /not a port number from 1 to 65535/ },
  { name: 'dataplane port 65536', set: { 'loadbalance.dataplane_port': '65536' }, property: 'loadbalance.dataplane_port', reason: /1 to 65535/ },
  { name: 'dataplane port not a number', set: { 'loadbalance.dataplane_port': '55x6' }, property: 'loadbalance.dataplane_port', reason: /not a port number/ },
  { name: 'user with a space', set: { 'loadbalance.haproxy_user': 'wcp admin' }, property: 'loadbalance.haproxy_user', reason: /not a plain user name/ },
  { name: 'user missing', unset: ['loadbalance.haproxy_user'], property: 'loadbalance.haproxy_user', reason: /is required/ },
  { name: 'API password too short', set: { 'loadbalance.haproxy_pwd': 'vmwar' }, property: 'loadbalance.haproxy_pwd', reason: /5 characters long; it must be 6 to 128/ },
  { name: 'API password too long', set: { 'loadbalance.haproxy_pwd': 'x'.repeat(129) }, property: 'loadbalance.haproxy_pwd', reason: /129 characters long/ },
  { name: 'API password missing', set: { 'loadbalance.haproxy_pwd': '' }, property: 'loadbalance.haproxy_pwd', reason: /is required/ },
  { name: 'root password too short', set: { 'appliance.root_pwd': 'abc' }, property: 'appliance.root_pwd', reason: /3 characters long/ },
  { name: 'boolean not a boolean', set: { 'appliance.permit_root_login': 'maybe' }, property: 'appliance.permit_root_login', reason: /not a boolean; use True or False/ },
  { name: 'CA certificate without key', set: { 'appliance.ca_cert': pem('ca.crt') }, property: 'appliance.ca_cert_key', reason: /give both/ },
  { name: 'CA key without certificate', set: { 'appliance.ca_cert_key': pem('ca.key') }, property: 'appliance.ca_cert', reason: /give both/ },
  { name: 'CA key of another CA', set: { 'appliance.ca_cert': pem('ca.crt'), 'appliance.ca_cert_key': pem('other-ca.key') }, property: 'appliance.ca_cert_key', reason: /does not belong to appliance\.ca_cert/ },
  { name: 'certificate that is not a CA', set: { 'appliance.ca_cert': pem('leaf.crt'), 'appliance.ca_cert_key': pem('leaf.key') }, property: 'appliance.ca_cert', reason: /is not a CA \(basicConstraints CA:TRUE is missing\)/ },
  { name: 'expired CA', set: { 'appliance.ca_cert': pem('expired-ca.crt'), 'appliance.ca_cert_key': pem('expired-ca.key') }, property: 'appliance.ca_cert', reason: /expired on 2001-01-01/ },
  { name: 'CA certificate not PEM', set: { 'appliance.ca_cert': 'hello world', 'appliance.ca_cert_key': pem('ca.key') }, property: 'appliance.ca_cert', reason: /is not PEM/ },
  { name: 'CA certificate with a corrupt body', set: { 'appliance.ca_cert': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', 'appliance.ca_cert_key': pem('ca.key') }, property: 'appliance.ca_cert', reason: /not a readable X\.509 certificate/ },
  { name: 'encrypted CA key', set: { 'appliance.ca_cert': pem('ca.crt'), 'appliance.ca_cert_key': pem('ca-encrypted.key') }, property: 'appliance.ca_cert_key', reason: /encrypted private key/ },
  { name: 'service range with host bits set', set: { 'loadbalance.service_ip_range': '1.2.3.4/28' }, property: 'loadbalance.service_ip_range', reason: /host bits set .*did you mean 1\.2\.3\.0\/28\?/ },
  { name: 'service range holding the workload address', set: { 'loadbalance.service_ip_range': '192.168.1.0/24' }, property: 'loadbalance.service_ip_range', reason: /contains 192\.168\.1\.2, the appliance's workload address/ },
  { name: 'service range holding the workload gateway', set: { 'loadbalance.service_ip_range': '192.168.1.0/31' }, property: 'loadbalance.service_ip_range', reason: /contains 192\.168\.1\.1, the workload gateway/ },
  { name: 'service range holding a nameserver', set: { 'loadbalance.service_ip_range': '192.168.0.0/24, 10.170.16.0/24' }, property: 'loadbalance.service_ip_range', reason: /contains 10\.170\.16\.48, a nameserver/ },
  { name: 'service ranges overlapping each other', set: { 'loadbalance.service_ip_range': '192.168.0.0/24, 192.168.0.128/25' }, property: 'loadbalance.service_ip_range', reason: /192\.168\.0\.128\/25 overlaps 192\.168\.0\.0\/24/ },
  { name: 'service range missing', set: { 'loadbalance.service_ip_range': '' }, property: 'loadbalance.service_ip_range', reason: /is required/ },
  { name: 'service range far too large', set: { 'loadbalance.service_ip_range': '0.0.0.0/0' }, property: 'loadbalance.service_ip_range', reason: /far too large/ },
  { name: 'service range in loopback', set: { 'loadbalance.service_ip_range': '127.1.0.0/24' }, property: 'loadbalance.service_ip_range', reason: /loopback range/ },
  { name: 'service range listed twice', set: { 'loadbalance.service_ip_range': '192.168.0.0/24,192.168.0.0/24' }, property: 'loadbalance.service_ip_range', reason: /listed twice/ },
  { name: 'extra workload network includes the primary one', set: { 'network.additional_workload_networks': '192.168.0.0/15' }, property: 'network.additional_workload_networks', reason: /includes the primary workload network 192\.168\.0\.0\/16/ },
  { name: 'extra workload network overlaps management', set: { 'network.additional_workload_networks': '10.191.0.0/16' }, property: 'network.additional_workload_networks', reason: /overlaps the management network/ },
  { name: 'extra workload network with host bits', set: { 'network.additional_workload_networks': '10.30.1.1/16' }, property: 'network.additional_workload_networks', reason: /did you mean 10\.30\.0\.0\/16/ },
  { name: 'newline in the hostname', set: { 'network.hostname': 'haproxy\nlocal' }, property: 'network.hostname', reason: /control character \(newline\)/ },
  { name: 'newline injected into the user', set: { 'loadbalance.haproxy_user': 'wcp\n    user evil insecure-password x' }, property: 'loadbalance.haproxy_user', reason: /control character \(newline\)/ },
  { name: 'carriage return in a password', set: { 'loadbalance.haproxy_pwd': 'vmware\rvmware' }, property: 'loadbalance.haproxy_pwd', reason: /control character \(carriage return\)/ },
  { name: 'tab in a gateway', set: { 'network.workload_gateway': '192.168.1.1\t#' }, property: 'network.workload_gateway', reason: /control character \(tab\)/ },
  { name: 'four adapters', adapters: [...SEED_ADAPTERS, { mac: '00:50:56:b1:00:99' }], property: 'EthernetAdapterSection', reason: /lists 4 network adapters; the appliance takes 2 \(default\) or 3 \(frontend\)/ },
  { name: 'NTP server not a host name', set: { 'network.ntp_servers': 'ntp_1.example' }, property: 'network.ntp_servers', reason: /RFC 1123/ },
  // Issue #9, class 4 and class 1 (appliance.ca_cert).
  { name: 'user with a colon (basic auth could never succeed)', set: { 'loadbalance.haproxy_user': 'wcp:admin' }, property: 'loadbalance.haproxy_user', reason: /contains a colon/ },
  { name: 'user with a non-ASCII letter', set: { 'loadbalance.haproxy_user': 'wcp-ädmin' }, property: 'loadbalance.haproxy_user', reason: /printable ASCII/ },
  { name: 'user with DEL', set: { 'loadbalance.haproxy_user': 'wcp\u007f' }, property: 'loadbalance.haproxy_user', reason: /control character/ },
  { name: 'user longer than 64 characters', set: { 'loadbalance.haproxy_user': 'u'.repeat(65) }, property: 'loadbalance.haproxy_user', reason: /65 characters long/ },
  { name: 'root password of one space', set: { 'appliance.root_pwd': ' ' }, property: 'appliance.root_pwd', reason: /1 characters long; it must be 6 to 128/ },
  { name: 'API password of spaces only, too short', set: { 'loadbalance.haproxy_pwd': '   ' }, property: 'loadbalance.haproxy_pwd', reason: /3 characters long/ },
  { name: 'CA certificate with its private key pasted after it', set: { 'appliance.ca_cert': pem('ca.crt') + pem('ca.key'), 'appliance.ca_cert_key': pem('ca.key') }, property: 'appliance.ca_cert', reason: /holds a PRIVATE KEY block besides the certificate/ },
  { name: 'CA certificate with its private key pasted before it', set: { 'appliance.ca_cert': pem('ca.key') + pem('ca.crt'), 'appliance.ca_cert_key': pem('ca.key') }, property: 'appliance.ca_cert', reason: /holds a PRIVATE KEY block/ },
  { name: 'CA certificate with a traditional RSA key, spaces for newlines', set: { 'appliance.ca_cert': (pem('ca.crt') + pem('ca-rsa-traditional.key')).replace(/\n/g, ' '), 'appliance.ca_cert_key': pem('ca.key') }, property: 'appliance.ca_cert', reason: /holds a RSA PRIVATE KEY block/ },
  { name: 'CA certificate and key as base64 of the bundle', set: { 'appliance.ca_cert': Buffer.from(pem('ca.crt') + pem('ca.key')).toString('base64'), 'appliance.ca_cert_key': pem('ca.key') }, property: 'appliance.ca_cert', reason: /holds a PRIVATE KEY block/ },
  { name: 'CA certificate chain of two', set: { 'appliance.ca_cert': pem('ca.crt') + pem('other-ca.crt'), 'appliance.ca_cert_key': pem('ca.key') }, property: 'appliance.ca_cert', reason: /holds 2 certificates; give exactly one/ },
  { name: 'CA certificate with text around it', set: { 'appliance.ca_cert': `Bag Attributes\n    localKeyID: 01\nsubject=/CN=ca\n${pem('ca.crt')}`, 'appliance.ca_cert_key': pem('ca.key') }, property: 'appliance.ca_cert', reason: /text outside the -----BEGIN CERTIFICATE----- block/ },
  { name: 'CA certificate with a BEGIN and no END after it', set: { 'appliance.ca_cert': `${pem('ca.crt')}-----BEGIN PRIVATE KEY-----\nAAAA`, 'appliance.ca_cert_key': pem('ca.key') }, property: 'appliance.ca_cert', reason: /text outside/ },
  { name: 'CA key field holding two keys', set: { 'appliance.ca_cert': pem('ca.crt'), 'appliance.ca_cert_key': pem('ca.key') + pem('other-ca.key') }, property: 'appliance.ca_cert_key', reason: /holds 2 private keys/ },
  { name: 'CA key field holding the certificate too', set: { 'appliance.ca_cert': pem('ca.crt'), 'appliance.ca_cert_key': pem('ca.key') + pem('ca.crt') }, property: 'appliance.ca_cert_key', reason: /holds a CERTIFICATE block/ },
  { name: '1,001 service ranges (more than the rule band holds)', set: { 'loadbalance.service_ip_range': Array.from({ length: 1001 }, (_, i) => `100.${64 + (i >> 8)}.${i & 255}.0/24`).join(',') }, property: 'loadbalance.service_ip_range', reason: /1001 ranges given; at most 1000/ },
  { name: '1,001 additional workload networks', set: { 'network.additional_workload_networks': Array.from({ length: 1001 }, (_, i) => `10.${100 + (i >> 8)}.${i & 255}.0/24`).join(',') }, property: 'network.additional_workload_networks', reason: /1001 networks given; at most 1000/ },
  { name: '17 NTP servers', set: { 'network.ntp_servers': Array.from({ length: 17 }, (_, i) => `ntp${i}.example`).join(',') }, property: 'network.ntp_servers', reason: /17 NTP servers given; at most 16/ },
  { name: 'a value longer than 65535 characters', set: { 'network.ntp_servers': 'n'.repeat(70_000) }, property: 'network.ntp_servers', reason: /is 70000 characters long; at most 65535/ },
  { name: 'extra workload network overlapping a service range', set: { 'network.additional_workload_networks': '192.168.0.0/25' }, property: 'network.additional_workload_networks', reason: /192\.168\.0\.0\/25 (includes|overlaps)/ },
  { name: 'service range inside an extra workload network', set: { 'loadbalance.service_ip_range': '10.40.1.0/24', 'network.additional_workload_networks': '10.40.0.0/16' }, property: 'network.additional_workload_networks', reason: /10\.40\.0\.0\/16 overlaps the load-balancer range 10\.40\.1\.0\/24/ },
  { name: 'deployment option against the adapter count', adapters: TWO_ADAPTERS, deployment: 'frontend', property: 'EthernetAdapterSection', reason: /lists 2 network adapters, but the frontend deployment has 3 NICs/ },
];
