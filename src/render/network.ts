/**
 * The network model rendered into the files the appliance needs: a .link and a .network per NIC,
 * the AnyIP unit for lo, table names, hostname, hosts, the timesyncd drop-in and the resolved
 * drop-in. Pure apart from reading the templates.
 */
import type { DesiredFile } from '../plan/types.js';
import type { NetworkModel, RouteSpec } from '../plan/network.js';
import { NETWORK_PATHS as PATHS } from '../appliance/paths.js';
import { render, usePartial } from './templates.js';

const MODE = 0o644;

const route = (r: RouteSpec) => ({ ...r, ...(r.table !== undefined && { table: String(r.table) }) });

export function renderNetworkFiles(model: NetworkModel): DesiredFile[] {
  usePartial('route', 'network/route');
  const files: DesiredFile[] = [];

  for (const nic of model.nics) {
    files.push({ path: PATHS.link(nic.role), content: render('network/link', { role: nic.role, mac: nic.mac }), mode: MODE, affects: [] });
  }
  for (const nic of model.nics) {
    files.push({
      path: PATHS.network(nic.role),
      content: render('network/nic.network', { ...nic, domains: nic.domains.join(' '), routes: nic.routes.map(route) }),
      mode: MODE,
      affects: ['systemd-networkd'],
      interfaces: [nic.role],
    });
  }
  if (model.anyip.length) {
    files.push({
      path: PATHS.anyip,
      content: render('network/lo-anyip.network', { routes: model.anyip.map(route) }),
      mode: MODE,
      affects: ['systemd-networkd'],
      interfaces: ['lo'],
    });
  }
  if (model.tables.length) {
    files.push({ path: PATHS.rtTables, content: render('network/rt_tables.conf', { tables: model.tables }), mode: MODE, affects: [] });
  }
  const h = model.hostname;
  files.push({ path: PATHS.hostname, content: render('network/hostname', { name: h.static }), mode: MODE, affects: ['hostname'] });
  const names = h.fqdn === h.short ? h.fqdn : `${h.fqdn} ${h.short}`;
  files.push({ path: PATHS.hosts, content: render('network/hosts', { address: h.hostsAddress, names }), mode: MODE, affects: [] });
  if (model.ntp.length) {
    files.push({
      path: PATHS.timesyncd,
      content: render('network/timesyncd.conf', { servers: model.ntp.join(' ') }),
      mode: MODE,
      affects: ['systemd-timesyncd'],
    });
  }
  // Always: no property turns LLMNR or mDNS on (docs/network.md, "The appliance's own surface").
  files.push({ path: PATHS.resolved, content: render('network/resolved.conf', {}), mode: MODE, affects: ['systemd-resolved'] });
  return files;
}
