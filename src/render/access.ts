/**
 * The sshd drop-in from the access model (PermitRootLogin; ListenAddress on the management address
 * when it is static). The root password is no file: it goes to chpasswd (src/apply/live.ts). Pure
 * apart from reading the templates.
 */
import type { DesiredFile } from '../plan/types.js';
import type { AccessModel } from '../plan/access.js';
import { SSHD_DROPIN } from '../appliance/paths.js';
import { render } from './templates.js';

export function renderAccessFiles(model: AccessModel): DesiredFile[] {
  return [
    {
      path: SSHD_DROPIN,
      content: render('ssh/sshd.conf', {
        permitRootLogin: model.sshd.permitRootLogin ? 'yes' : 'no',
        listenAddress: model.sshd.listenAddress,
      }),
      mode: 0o644,
      affects: ['ssh'],
    },
  ];
}
