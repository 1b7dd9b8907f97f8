/**
 * The sshd drop-in from the access model (PermitRootLogin; ListenAddress on the management address
 * when it is static), and root's authorized_keys (0600 in a 0700 /root/.ssh; merged with what is
 * on disk, so apply merges again when someone edited it meanwhile). The root password is no file:
 * it goes to chpasswd (src/apply/live.ts). Pure apart from reading the templates.
 */
import type { DesiredFile } from '../plan/types.js';
import type { AccessModel } from '../plan/access.js';
import { ROOT_AUTHORIZED_KEYS, SSHD_DROPIN } from '../appliance/paths.js';
import { render } from './templates.js';

export function renderAccessFiles(model: AccessModel): DesiredFile[] {
  const keys = model.authorizedKeys;
  return [
    {
      path: SSHD_DROPIN,
      content: render('ssh/sshd.conf', {
        permitRootLogin: model.sshd.permitRootLogin,
        listenAddress: model.sshd.listenAddress,
      }),
      mode: 0o644,
      affects: ['ssh'],
    },
    // sshd reads authorized_keys at each login: no reload.
    ...(keys
      ? [
          {
            path: ROOT_AUTHORIZED_KEYS,
            content: keys.content,
            mode: 0o600,
            dirMode: 0o700,
            affects: [],
            merge: { base: keys.base, remerge: keys.remerge },
          } satisfies DesiredFile,
        ]
      : []),
  ];
}
