/**
 * The appliance's OVF 1.1 descriptor (DMTF DSP0243 1.1, schema DSP8023 1.1.1): References, DiskSection,
 * NetworkSection, DeploymentOptionSection, and one VirtualSystem with its ProductSections, an
 * OperatingSystemSection and a VirtualHardwareSection. The DeploymentOptionSection and the
 * ProductSections are the pieces `ovf-descriptor` prints (`src/config/descriptor.ts`), from the same
 * property declarations the agent validates with. Pure: no I/O.
 *
 * The VirtualHardwareSection also has an IDE controller with a CD-ROM drive (the ISO transport attaches
 * the OVF environment there) and `vmw:Config firmware=bios` (the disk has no EFI system partition).
 *
 * The schema requires the `rasd:` (and `vssd:`) elements of each Item in alphabetical order; `item()`
 * sorts them, so an Item is written the same whatever order its fields are given in.
 */
import { deploymentOptionSectionLines, productSectionLines, xmlEscape } from '../config/descriptor.js';

export const OVF_NS = 'http://schemas.dmtf.org/ovf/envelope/1';
export const STREAM_OPTIMIZED = 'http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized';
/** The networks a deployer maps, in NIC order. Frontend is used by the `frontend` configuration only. */
export const NETWORKS = [
  { name: 'Management', description: 'The management network: SSH, the Data Plane API, the Supervisor control plane' },
  { name: 'Workload', description: 'The workload network: the Supervisor and Tanzu Kubernetes clusters' },
  { name: 'Frontend', description: 'The frontend network: load-balanced virtual IPs (Frontend Network configuration only)' },
] as const;

export interface EnvelopeInput {
  /** The appliance's version: the ProductSection's Version and the generated-by comment. */
  version: string;
  disk: {
    /** The VMDK's file name in the archive (a bare name: no folder). */
    file: string;
    /** The VMDK file's size in bytes (References/File ovf:size). */
    size: number;
    /** The virtual disk's capacity in bytes (DiskSection/Disk ovf:capacity). */
    capacityBytes: number;
  };
  /** vCPUs; 2 unless given. */
  cpus?: number;
  /** Memory in MiB; 2048 unless given. */
  memoryMiB?: number;
}

/** Debian 12, 64-bit: CIM_OperatingSystem.OsType 96 is "Debian 64-Bit"; vSphere 8's guest id debian12_64Guest. */
const OS = { id: 96, osType: 'debian12_64Guest', description: 'Debian GNU/Linux 12 (64-bit)' };
/** vmx-15 is vSphere 6.7 U2 and later (the versions vSphere with Tanzu runs on); it has pvscsi and vmxnet3. */
const VIRTUAL_SYSTEM_TYPE = 'vmx-15';

/** The IDE controller's InstanceID (the CD-ROM drive's is the next): after the CPU, memory, SCSI, disk and three NICs. */
const IDE_CONTROLLER_ID = 5 + NETWORKS.length;

/** One `<Item>`: `fields` are rasd: element names and values, written sorted by name as the schema requires. */
function item(fields: Record<string, string>, configuration?: string): string[] {
  const attr = configuration ? ` ovf:configuration="${xmlEscape(configuration)}"` : '';
  const names = Object.keys(fields).sort();
  return [`<Item${attr}>`, ...names.map((n) => `  <rasd:${n}>${xmlEscape(fields[n]!)}</rasd:${n}>`), '</Item>'];
}

function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name}: ${value} is not a positive integer`);
}

/** The whole descriptor (`.ovf`), UTF-8 text ending in a newline. */
export function renderOvfEnvelope(input: EnvelopeInput): string {
  const { version, disk } = input;
  const cpus = input.cpus ?? 2;
  const memoryMiB = input.memoryMiB ?? 2048;
  if (!/^[A-Za-z0-9._-]+$/u.test(disk.file)) throw new Error(`disk.file: "${disk.file}" is not a bare file name`);
  assertPositiveInteger('disk.size', disk.size);
  assertPositiveInteger('disk.capacityBytes', disk.capacityBytes);
  assertPositiveInteger('cpus', cpus);
  assertPositiveInteger('memoryMiB', memoryMiB);

  const hardware: string[] = [
    `<VirtualHardwareSection ovf:transport="com.vmware.guestInfo iso">`,
    '  <Info>Virtual hardware requirements</Info>',
    '  <System>',
    '    <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>',
    '    <vssd:InstanceID>0</vssd:InstanceID>',
    '    <vssd:VirtualSystemIdentifier>haproxy</vssd:VirtualSystemIdentifier>',
    `    <vssd:VirtualSystemType>${VIRTUAL_SYSTEM_TYPE}</vssd:VirtualSystemType>`,
    '  </System>',
    ...[
      item({
        AllocationUnits: 'hertz * 10^6',
        Description: 'Number of virtual CPUs',
        ElementName: `${cpus} virtual CPU(s)`,
        InstanceID: '1',
        ResourceType: '3',
        VirtualQuantity: String(cpus),
      }),
      item({
        AllocationUnits: 'byte * 2^20',
        Description: 'Memory size',
        ElementName: `${memoryMiB} MB of memory`,
        InstanceID: '2',
        ResourceType: '4',
        VirtualQuantity: String(memoryMiB),
      }),
      item({
        Address: '0',
        Description: 'SCSI controller',
        ElementName: 'SCSI controller 0',
        InstanceID: '3',
        ResourceSubType: 'VirtualSCSI',
        ResourceType: '6',
      }),
      item({
        AddressOnParent: '0',
        ElementName: 'Hard disk 1',
        HostResource: 'ovf:/disk/vmdisk1',
        InstanceID: '4',
        Parent: '3',
        ResourceType: '17',
      }),
      ...NETWORKS.map((n, i) =>
        item(
          {
            AddressOnParent: String(7 + i),
            AutomaticAllocation: 'true',
            Connection: n.name,
            Description: `VMXNET3 ethernet adapter on "${n.name}"`,
            ElementName: `Network adapter ${i + 1}`,
            InstanceID: String(5 + i),
            ResourceSubType: 'VmxNet3',
            ResourceType: '10',
          },
          n.name === 'Frontend' ? 'frontend' : undefined,
        ),
      ),
      // The ISO transport needs a CD-ROM drive: vSphere attaches the OVF environment's ISO to it. The
      // drive is on IDE, as VMware's own exports have it. The IDE controller has no ResourceSubType:
      // vSphere has no subtype for IDE and refuses VirtualBox's "PIIX4" (VALUE_ILLEGAL ... not found in []).
      item({
        Address: '0',
        Description: 'IDE controller',
        ElementName: 'IDE 0',
        InstanceID: String(IDE_CONTROLLER_ID),
        ResourceType: '5',
      }),
      item({
        AddressOnParent: '0',
        AutomaticAllocation: 'false',
        Description: 'CD-ROM drive for the OVF environment (ISO transport)',
        ElementName: 'CD/DVD drive 1',
        InstanceID: String(IDE_CONTROLLER_ID + 1),
        Parent: String(IDE_CONTROLLER_ID),
        ResourceSubType: 'vmware.cdrom.remotepassthrough',
        ResourceType: '15',
      }),
    ]
      .flat()
      .map((l) => `  ${l}`),
    // The disk boots with BIOS and GRUB only (no EFI system partition): say so, as vSphere would
    // otherwise pick the guest OS type's default firmware, which may be EFI.
    '  <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="bios"/>',
    '</VirtualHardwareSection>',
  ];

  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push('<!-- Generated by haproxy-appliance (src/ova/envelope.ts); the version is in the ProductSection. -->');
  out.push(`<Envelope xmlns="${OVF_NS}" xmlns:ovf="${OVF_NS}"`);
  out.push('          xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common"');
  out.push('          xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"');
  out.push('          xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"');
  out.push('          xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">');
  out.push('  <References>');
  out.push(`    <File ovf:href="${xmlEscape(disk.file)}" ovf:id="file1" ovf:size="${disk.size}"/>`);
  out.push('  </References>');
  out.push('  <DiskSection>');
  out.push('    <Info>Virtual disk information</Info>');
  out.push(
    `    <Disk ovf:capacity="${disk.capacityBytes}" ovf:capacityAllocationUnits="byte" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="${STREAM_OPTIMIZED}"/>`,
  );
  out.push('  </DiskSection>');
  out.push('  <NetworkSection>');
  out.push('    <Info>The networks the appliance connects to</Info>');
  for (const n of NETWORKS) {
    out.push(`    <Network ovf:name="${n.name}">`);
    out.push(`      <Description>${xmlEscape(n.description)}</Description>`);
    out.push('    </Network>');
  }
  out.push('  </NetworkSection>');
  out.push(...deploymentOptionSectionLines('  '));
  out.push('  <VirtualSystem ovf:id="haproxy">');
  out.push('    <Info>HAProxy load balancer for vSphere with Tanzu</Info>');
  out.push('    <Name>haproxy</Name>');
  out.push('    <AnnotationSection>');
  out.push('      <Info>A human-readable annotation</Info>');
  out.push(`      <Annotation>HAProxy load balancer for vSphere with Tanzu, haproxy-appliance ${xmlEscape(version)}</Annotation>`);
  out.push('    </AnnotationSection>');
  out.push('    <ProductSection>');
  out.push('      <Info>Information about the installed software</Info>');
  out.push('      <Product>HAProxy load balancer for vSphere with Tanzu</Product>');
  out.push(`      <Version>${xmlEscape(version)}</Version>`);
  out.push(`      <FullVersion>${xmlEscape(version)}</FullVersion>`);
  out.push('    </ProductSection>');
  out.push(...productSectionLines('    '));
  out.push(`    <OperatingSystemSection ovf:id="${OS.id}" vmw:osType="${OS.osType}">`);
  out.push('      <Info>The kind of installed guest operating system</Info>');
  out.push(`      <Description>${xmlEscape(OS.description)}</Description>`);
  out.push('    </OperatingSystemSection>');
  out.push(...hardware.map((l) => `    ${l}`));
  out.push('  </VirtualSystem>');
  out.push('</Envelope>');
  return `${out.join('\n')}\n`;
}
