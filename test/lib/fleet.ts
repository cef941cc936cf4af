// A fleet of N simulated cores behind one MQTT connection: the load
// generator for check. It listens where agents listen (each group's expected
// topic, each thing's expected and report/get) and answers as the device of
// that group or thing would: the envelope parsed by the agent's parser, judged,
// built into a report by the agent's buildReport and cut into messages by
// reportMessages, published on the device's own report topic. One connection
// for all N, whatever N.
import { silentLogger } from '../../src/log.js';
import { Mqtt5Transport } from '../../src/report/mqtt5.js';
import { reportMessages, topicsFor } from '../../src/report/protocol.js';
import type { Report } from '../../src/verify/report.js';
import { answerTo, reportOf, type SimDevice } from './sim-device.js';

export interface FleetDevice extends SimDevice {
  /** A silent device never answers. */
  silent?: boolean;
}

export interface Fleet {
  readonly devices: readonly FleetDevice[];
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
  const send = (d: FleetDevice, report: Report) => {
    for (const m of reportMessages(report, topicsFor(prefix, d.thing))) {
      if (m.kind === 'shadow') continue; // mosquitto has no shadow service; the report is what check reads
      void transport.publish(m).then(() => (answered += m.kind === 'report' ? 1 : 0), () => {});
    }
  };
  const next = (d: FleetDevice) => {
    const s = (sequence.get(d.thing) ?? 0) + 1;
    sequence.set(d.thing, s);
    return s;
  };
  const onMessage = (topic: string, payload: Buffer) => {
    const parts = topic.slice(prefix.length + 1).split('/');
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
      let requestId: string | null = null;
      try {
        const v = JSON.parse(payload.toString('utf8')) as { requestId?: unknown };
        if (typeof v.requestId === 'string') requestId = v.requestId;
      } catch {
        /* any payload asks for the report */
      }
      send(d, reportOf(d, null, { sequence: next(d), requestId }));
    }
  };
  let up!: () => void;
  const connected = new Promise<void>((res) => (up = res));
  await transport.start({ onMessage, onConnected: () => up(), onDisconnected: () => {} });
  await connected;
  for (const filter of [`${prefix}/groups/+/expected`, `${prefix}/+/expected`, `${prefix}/+/report/get`]) await transport.subscribe(filter);
  return {
    devices: o.devices,
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
