/**
 * The live NICs, read straight from the kernel's /sys/class/net: name, MAC, whether hardware
 * backs the interface, and its PCI slot. Read-only. (systeminformation's networkInterfaces()
 * gives the same data by spawning tools and reading more than needed; sysfs is faster and exact.)
 */
import { readdir, readFile, readlink, realpath } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { LiveNic } from './nics.js';
import { normalizeMac } from './nics.js';

const ARPHRD_ETHER = '1';
const PCI_ADDRESS = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/u;

async function read(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/**
 * Ethernet interfaces (ARPHRD_ETHER, MAC set) under `classNet` (default /sys/class/net), sorted
 * by name. Loopback, tunnels and interfaces without a MAC are left out.
 */
export async function discoverNics(classNet = '/sys/class/net'): Promise<LiveNic[]> {
  let names: string[];
  try {
    names = await readdir(classNet);
  } catch (err) {
    throw new Error(`cannot list network interfaces in ${classNet}: ${(err as Error).message}`, { cause: err });
  }
  const nics = await Promise.all(
    names.map(async (name): Promise<LiveNic | undefined> => {
      const dir = join(classNet, name);
      if ((await read(join(dir, 'type'))) !== ARPHRD_ETHER) return undefined;
      const mac = normalizeMac((await read(join(dir, 'address'))) ?? '');
      if (!mac || mac === '00:00:00:00:00:00') return undefined;
      let pciSlot: string | undefined;
      let physical = false;
      try {
        await readlink(join(dir, 'device'));
        physical = true;
        const slot = basename(await realpath(join(dir, 'device')));
        if (PCI_ADDRESS.test(slot)) pciSlot = slot;
      } catch {
        /* virtual: no device link */
      }
      return { name, mac, physical, ...(pciSlot && { pciSlot }) };
    }),
  );
  return nics.filter((n): n is LiveNic => n !== undefined).sort((a, b) => a.name.localeCompare(b.name));
}
