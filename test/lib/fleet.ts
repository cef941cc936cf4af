// A fleet of N simulated cores behind one MQTT connection: the load
// generator for check. It listens where agents listen (each group's expected
// topic, each thing's expected and report/get) and answers as the device of
// that group or thing would: the envelope parsed by the agent's parser, judged,
// built into a report by the agent's buildReport and cut into messages by
// reportMessages, published on the device's own report topic. One connection
// for all N, whatever N. Greengrass v2 devices (v2Devices) listen where a v2
// agent does: each thing group their deployments name, their thing's expected
// and report/get; one publish to a thing group reaches every device of it.
import { silentLogger } from '../../src/log.js';
import { Mqtt5Transport } from '../../src/report/mqtt5.js';
import { reportMessages, topicsFor } from '../../src/report/protocol.js';
import type { AnyReport } from '../../src/verify/report.js';
import { answerTo, answerToV2, reportOf, v2ReportOf, v2ThingGroups, type SimDevice, type SimV2Device } from './sim-device.js';

export interface FleetDevice extends SimDevice {
  /** A silent device never answers. */
  silent?: boolean;
}

export interface FleetV2Device extends SimV2Device {
  silent?: boolean;
}

export interface Fleet {
  readonly devices: readonly FleetDevice[];
  readonly v2Devices: readonly FleetV2Device[];
  /** Messages taken from check (expectations and report requests). */
  readonly received: number;
  /** Reports published. */
  readonly answered: number;
  /** What deploy-system-instance printed for each device's deployment, as check's input. */
  responses(): Record<string, unknown>[];
  stop(): Promise<void>;
}

export interface FleetOptions {
  broker: { host: string; port: number; certs: { clientCert: string; clientKey: string; ca: string } };
  devices: FleetDevice[];
  v2Devices?: FleetV2Device[];
  prefix?: string;
  clientId?: string;
}

/** N healthy devices, each the core of its own group, all running one flow. */
export function fleetDevices(n: number, over: (i: number) => Partial<FleetDevice> = () => ({})): FleetDevice[] {
  return Array.from({ length: n }, (_, i) => {
    const k = String(i).padStart(6, '0');
    return {
      thing: `fleet-core-${k}`,
      groupId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      groupVersionId: `11111111-0000-4000-8000-${String(i).padStart(12, '0')}`,
      deploymentId: `22222222-0000-4000-8000-${String(i).padStart(12, '0')}`,
      systemInstanceId: `urn:tdm:us-east-1/123456789012/default:deployment:Door_${k}`,
      ...over(i),
    };
  });
}

export function deployResponse(d: SimDevice): Record<string, unknown> {
  return {
    summary: {
      id: d.systemInstanceId,
      arn: `arn:aws:iotthingsgraph:us-east-1:123456789012:Deployment/default/${d.systemInstanceId.split(':').pop()}`,
      status: 'DEPLOYED_IN_TARGET',
      target: 'GREENGRASS',
      greengrassGroupName: `group-of-${d.thing}`,
      createdAt: 1_795_000_000,
      updatedAt: 1_795_000_300,
      greengrassGroupId: d.groupId,
      greengrassGroupVersionId: d.groupVersionId,
    },
    greengrassDeploymentId: d.deploymentId,
  };
}

export async function startFleet(o: FleetOptions): Promise<Fleet> {
  const prefix = o.prefix ?? 'deploy-witness';
  const byGroup = new Map(o.devices.map((d) => [d.groupId, d]));
  const byThing = new Map(o.devices.map((d) => [d.thing, d]));
  const v2 = o.v2Devices ?? [];
  const v2ByThing = new Map(v2.map((d) => [d.thing, d]));
  const v2ByGroup = new Map<string, FleetV2Device[]>();
  for (const d of v2) for (const g of v2ThingGroups(d)) v2ByGroup.set(g, [...(v2ByGroup.get(g) ?? []), d]);
  const sequence = new Map<string, number>();
  let received = 0;
  let answered = 0;
  const transport = new Mqtt5Transport({
    endpoint: o.broker.host, port: o.broker.port, certPath: o.broker.certs.clientCert, keyPath: o.broker.certs.clientKey,
    caPath: o.broker.certs.ca, clientId: o.clientId ?? `fleet-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    logger: silentLogger(), receiveMaximum: 100, minReconnectDelayMs: 100, maxReconnectDelayMs: 1000,
    // It stands for N devices, each with a connection of its own: not held to one connection's limits.
    iotCoreFlowControl: false,
  });
  const send = (d: { thing: string }, report: AnyReport) => {
    for (const m of reportMessages(report, topicsFor(prefix, d.thing))) {
      if (m.kind === 'shadow') continue; // mosquitto has no shadow service; the report is what check reads
      void transport.publish(m).then(() => (answered += m.kind === 'report' ? 1 : 0), () => {});
    }
  };
  const next = (d: { thing: string }) => {
    const s = (sequence.get(d.thing) ?? 0) + 1;
    sequence.set(d.thing, s);
    return s;
  };
  const requestIdIn = (payload: Buffer): string | null => {
    try {
      const v = JSON.parse(payload.toString('utf8')) as { requestId?: unknown };
      return typeof v.requestId === 'string' ? v.requestId : null;
    } catch {
      return null; // any payload asks for the report
    }
  };
  const onV2Message = (parts: string[], payload: Buffer): boolean => {
    if (parts.length === 3 && parts[0] === 'thinggroups' && parts[2] === 'expected') {
      for (const d of v2ByGroup.get(parts[1]!) ?? []) {
        if (d.silent) continue;
        received++;
        send(d, answerToV2(d, payload.toString('utf8'), { sequence: next(d) }));
      }
      return true;
    }
    const d = v2ByThing.get(parts[0]!);
    if (!d) return false;
    if (d.silent) return true;
    if (parts.length === 2 && parts[1] === 'expected') {
      received++;
      send(d, answerToV2(d, payload.toString('utf8'), { sequence: next(d) }));
    } else if (parts.length === 3 && parts[1] === 'report' && parts[2] === 'get') {
      received++;
      send(d, v2ReportOf(d, null, { sequence: next(d), requestId: requestIdIn(payload) }));
    }
    return true;
  };
  const onMessage = (topic: string, payload: Buffer) => {
    const parts = topic.slice(prefix.length + 1).split('/');
    if (onV2Message(parts, payload)) return;
    let d: FleetDevice | undefined;
    let kind: 'expected' | 'get';
    if (parts.length === 3 && parts[0] === 'groups' && parts[2] === 'expected') {
      d = byGroup.get(parts[1]!);
      kind = 'expected';
    } else if (parts.length === 2 && parts[1] === 'expected') {
      d = byThing.get(parts[0]!);
      kind = 'expected';
    } else if (parts.length === 3 && parts[1] === 'report' && parts[2] === 'get') {
      d = byThing.get(parts[0]!);
      kind = 'get';
    } else return;
    if (!d || d.silent) return;
    received++;
    if (kind === 'expected') {
      send(d, answerTo(d, payload.toString('utf8'), { sequence: next(d) }));
    } else {
      send(d, reportOf(d, null, { sequence: next(d), requestId: requestIdIn(payload) }));
    }
  };
  let up!: () => void;
  const connected = new Promise<void>((res) => (up = res));
  await transport.start({ onMessage, onConnected: () => up(), onDisconnected: () => {} });
  await connected;
  const filters = [`${prefix}/groups/+/expected`, `${prefix}/+/expected`, `${prefix}/+/report/get`, ...(v2.length ? [`${prefix}/thinggroups/+/expected`] : [])];
  for (const filter of filters) await transport.subscribe(filter);
  return {
    devices: o.devices,
    v2Devices: v2,
    get received() {
      return received;
    },
    get answered() {
      return answered;
    },
    responses: () => o.devices.map(deployResponse),
    stop: () => transport.stop(),
  };
}
