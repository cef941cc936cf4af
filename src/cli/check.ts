// `deploy-witness check`: the deploy call, confirmed or refuted by the devices
// themselves. Reads what the AWS CLI printed, asks each core over MQTT, waits
// for their answers and prints one row per device.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readInput } from '../config/load.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../log.js';
import { ConnectError, connect, type CheckConnection } from '../check/connect.js';
import { checkDocument } from '../check/document.js';
import { DEFAULT_PUBLISH_RATE, Exchange, MAX_PUBLISH_RATE, type ExchangeProgress } from '../check/exchange.js';
import { parseCheckInput, type CheckInput } from '../check/input.js';
import { planCheck, planGreengrassV2Check, PlanError, type Plan, type ResourceDigest } from '../check/plan.js';
import { renderHtml } from '../check/render-html.js';
import { renderTable } from '../check/render-table.js';
import { readResourceFile, ResourceFileError } from '../check/resources.js';
import { CheckSession } from '../check/session.js';
import { ResponseError } from '../verify/deploy-response.js';
import { VERSION } from '../version.js';
import { UsageError, type CommandIO } from './io.js';

export const CHECK_HELP = `Usage: deploy-witness check --response FILE --endpoint HOST [options]

Asks the cores whether a deployment really landed, and waits for their word.
FILE is what the AWS CLI printed, as is:
  aws iotthingsgraph deploy-system-instance --id ID      (one deployment)
  aws iotthingsgraph search-system-instances ...         (a whole fleet)
  aws iotthingsgraph get-system-instance --id ID
  aws greengrassv2 get-deployment --deployment-id ID     (Greengrass v2)
  aws greengrassv2 list-effective-deployments \
      --core-device-thing-name NAME                      (one v2 core: with --thing NAME)
or several of these as a JSON array or one after another (a shell loop), all
Things Graph or all Greengrass v2; get-deployment output may be in the
envelope a device receives ({"expectation": ..., "requestId": ...}). Summaries
with target CLOUD are listed and skipped. The columns follow the kind of
deployment (v2: the deployment, its components as each device holds them).

  aws iotthingsgraph deploy-system-instance --id "$ID" |
    deploy-witness check --response - --endpoint "$(aws iot describe-endpoint \\
      --endpoint-type iot:Data-ATS --query endpointAddress --output text)"

Which devices:
  (default)          each deployment is sent to its group's topic
                     (<prefix>/groups/<groupId>/expected); the core of that group answers.
                     Greengrass v2: a thing group's deployment to
                     <prefix>/thinggroups/<name>/expected, where every core whose
                     deployments name the group listens; who they are is not known
                     in advance, so check lists those that answered and waits the
                     whole --timeout (a thing target's to <prefix>/<thing>/expected)
  --thing NAME       ask these core things instead (repeatable); with several
                     deployments in FILE, each thing gets the one for the group (v2:
                     the target) it reports

Input:
  --response FILE    the CLI output; - reads standard input
  --resource-file [SYSTEM_INSTANCE_ID=]PATH
                     a flow archive from the deployment's bucket (aws s3 cp ...
                     flow-<name>.tar.gz): its SHA-256 joins the expectation, so the
                     device proves it holds those very bytes; without an ID, for every
                     deployment (repeatable)

Waiting:
  --timeout S        wait at most S seconds for every device to say VERIFIED (default 120)
  --first-answer     take each device's first answer as final
  --connect-timeout S
                     give up connecting after S seconds (default 30)

Output (a table on standard output unless --json):
  --json             one JSON document (schema/check.schema.json)
  --html FILE        also write a self-contained page

Connection (one MQTT 5 connection for the whole fleet):
  --endpoint HOST    AWS IoT Core data endpoint (or a broker)
  --port N           8883 with a certificate, 443 over WebSockets
  --cert FILE, --key FILE
                     a certificate: mutual TLS. Without them: MQTT over WebSockets signed
                     with SigV4, credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
                     else the profile (AWS_PROFILE, ~/.aws/credentials)
  --region REGION    for the signature (default AWS_REGION, the profile, or the endpoint)
  --ca FILE          CA certificate of the broker (default: the system store)
  --client-id ID     default deploy-witness-check-<random>
  --topic-prefix P   default deploy-witness
  --publish-rate N   publishes per second, at most ${MAX_PUBLISH_RATE} (AWS IoT Core's limit per
                     connection; default ${DEFAULT_PUBLISH_RATE})
  --log-level LEVEL  error, warn (default), info or debug; logs go to standard error
  -h, --help         this help

Exit status:
  0  every device confirmed: VERIFIED
  1  a device answered something else (MISMATCH, FAILED, TAMPERED, INCOMPLETE,
     refused the expectation, or two devices answered for one group); wins over 3
  3  a device did not answer in time, and none answered badly
  2  check could not do its job (bad flags or input, no connection)
`;

const OPTIONS = {
  response: { type: 'string' },
  thing: { type: 'string', multiple: true },
  'resource-file': { type: 'string', multiple: true },
  timeout: { type: 'string' },
  'first-answer': { type: 'boolean' },
  'connect-timeout': { type: 'string' },
  json: { type: 'boolean' },
  html: { type: 'string' },
  endpoint: { type: 'string' },
  port: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  ca: { type: 'string' },
  region: { type: 'string' },
  'client-id': { type: 'string' },
  'topic-prefix': { type: 'string' },
  'publish-rate': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Person-named input: a get-system-instance output carries a definition of up to about 1 MB. */
export const RESPONSE_MAX_BYTES = 4 * 1024 * 1024;

function seconds(flag: string, v: string | undefined, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v.trim()) || !Number.isFinite(n) || n <= 0 || n > max) {
    throw new UsageError(`--${flag} ${v}: give a number of seconds between 0 and ${max}`);
  }
  return n;
}

function integer(flag: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n < min || n > max) throw new UsageError(`--${flag} ${v}: give a whole number from ${min} to ${max}`);
  return n;
}

function progressLine(io: CommandIO): { update(p: ExchangeProgress): void; done(): void } {
  const stream = io.stderr;
  if (!stream.isTTY) return { update() {}, done() {} };
  let shown = false;
  return {
    update(p) {
      shown = true;
      stream.write(`\r\x1b[2Kcheck: ${p.answered}/${p.targets} answered, ${p.verified} verified, ${p.silent} silent, ${Math.ceil(p.remainingMs / 1000)} s left`);
    },
    done() {
      if (shown) stream.write('\r\x1b[2K');
    },
  };
}

/** Resolves once the stream has handed all of text to the system. */
function writeAll(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((res, rej) => stream.write(text, (err) => (err ? rej(err) : res())));
}

export async function checkCommand(argv: string[], io: CommandIO): Promise<number> {
  let values;
  try {
    values = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see deploy-witness check --help)`);
  }
  if (values.help) {
    io.stdout.write(CHECK_HELP);
    return 0;
  }
  if (values.response === undefined) throw new UsageError('--response FILE is needed: what aws iotthingsgraph deploy-system-instance (or search-system-instances) printed; - reads standard input');
  if (values.endpoint === undefined) throw new UsageError('--endpoint HOST is needed: your AWS IoT data endpoint (aws iot describe-endpoint --endpoint-type iot:Data-ATS)');
  const logLevel = (values['log-level'] ?? 'warn') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new UsageError(`--log-level ${values['log-level']}: give one of ${LOG_LEVELS.join(', ')}`);
  const timeoutS = seconds('timeout', values.timeout, 120, 86_400);
  const connectTimeoutS = seconds('connect-timeout', values['connect-timeout'], 30, 3_600);
  const port = values.port === undefined ? undefined : integer('port', values.port, 0, 1, 65_535);
  const publishRate = integer('publish-rate', values['publish-rate'], DEFAULT_PUBLISH_RATE, 1, MAX_PUBLISH_RATE);
  const prefix = values['topic-prefix'] ?? 'deploy-witness';
  if (prefix === '' || /[#+]/.test(prefix) || prefix.startsWith('/') || prefix.endsWith('/')) {
    throw new UsageError(`--topic-prefix ${prefix}: a topic prefix has no #, + nor a leading or trailing /`);
  }
  const logger = createLogger({ level: logLevel, stream: 'stderr' });

  // The input first: a bad file is said before any connection is tried.
  const source = values.response === '-' ? 'standard input' : values.response;
  let text: string;
  try {
    if (values.response === '-' && process.stdin.isTTY) io.stderr.write('check: reading the CLI output from standard input (end with Ctrl-D)\n');
    text = await readInput(values.response, RESPONSE_MAX_BYTES);
  } catch (err) {
    throw new UsageError(`cannot read --response ${values.response}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let parsed: CheckInput;
  try {
    parsed = parseCheckInput(text);
  } catch (err) {
    if (err instanceof ResponseError) throw new UsageError(`--response ${source}: ${err.message}`);
    throw err;
  }
  if (parsed.deployments.length === 0) {
    if (parsed.layout === 'greengrass-v2') throw new UsageError(`--response ${source} names no Greengrass v2 deployment, so no device to ask`);
    const why = parsed.skipped.map((s) => `${s.summary.id}: ${s.reason}`).join('; ');
    throw new UsageError(`--response ${source} names no system instance deployed to a Greengrass group, so no device to ask${why ? ` (${why})` : ''}`);
  }
  if (parsed.layout === 'greengrass-v2' && (values['resource-file'] ?? []).length > 0) {
    throw new UsageError('--resource-file is for Things Graph flow archives; a Greengrass v2 core checks each artifact against the digest in its recipe');
  }
  const resources: ResourceDigest[] = [];
  for (const arg of values['resource-file'] ?? []) {
    try {
      resources.push(await readResourceFile(arg));
    } catch (err) {
      if (err instanceof ResourceFileError) throw new UsageError(err.message);
      throw err;
    }
  }
  const newRequestId = () => `check-${randomBytes(8).toString('hex')}`;
  let plan: Plan;
  try {
    plan = parsed.layout === 'greengrass-v2'
      ? planGreengrassV2Check({ prefix, deployments: parsed.deployments, things: values.thing ?? [], newRequestId })
      : planCheck({ prefix, deployments: parsed.deployments, things: values.thing ?? [], resources, newRequestId });
  } catch (err) {
    if (err instanceof PlanError) throw new UsageError(err.message);
    throw new UsageError(`--thing: ${(err as Error).message}`);
  }
  const session = new CheckSession(plan, { firstAnswer: values['first-answer'] === true, newRequestId });
  const progress = progressLine(io);
  const exchange = new Exchange({
    session, timeoutMs: timeoutS * 1000, publishRate, logger,
    link: { publish: (topic, payload) => (connection ? connection.publish(topic, payload) : Promise.reject(new Error('not connected'))) },
    onProgress: (p) => progress.update(p),
  });

  const startedAt = new Date();
  let connection: CheckConnection | undefined;
  try {
    connection = await connect({
      endpoint: values.endpoint,
      ...(port !== undefined ? { port } : {}),
      ...(values.cert !== undefined ? { cert: resolve(values.cert) } : {}),
      ...(values.key !== undefined ? { key: resolve(values.key) } : {}),
      ...(values.ca !== undefined ? { ca: resolve(values.ca) } : {}),
      ...(values.region !== undefined ? { region: values.region } : {}),
      ...(values['client-id'] !== undefined ? { clientId: values['client-id'] } : {}),
      env: io.env, logger, connectTimeoutMs: connectTimeoutS * 1000,
      subscribe: plan.reportFilter,
      onMessage: (topic, payload) => exchange.deliver(topic, payload),
    });
  } catch (err) {
    if (err instanceof ConnectError) throw new UsageError(err.message);
    throw err;
  }

  const onSignal = () => exchange.stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // On a terminal the line also counts down between answers; one timer, whatever the fleet.
  const ticker = io.stderr.isTTY ? setInterval(() => progress.update(exchange.snapshot()), 1000) : null;
  let result;
  try {
    result = await exchange.run();
  } finally {
    if (ticker) clearInterval(ticker);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    progress.done();
    await connection.close().catch((err: Error) => logger.warn('closing the connection failed', { error: err.message }));
  }
  logger.info('check finished', { ...result, ...session.stats });

  const doc = checkDocument({
    session, skipped: parsed.skipped, notes: parsed.notes, startedAt, finishedAt: new Date(),
    firstAnswer: values['first-answer'] === true, timeoutSeconds: timeoutS, version: VERSION,
  });
  // Written to the end before the command returns: the process exits right after, and a
  // thousand-device document through a pipe is larger than the pipe holds.
  await writeAll(io.stdout, values.json ? `${JSON.stringify(doc, null, 2)}\n` : renderTable(doc));
  if (values.json) io.stderr.write(`${doc.message}\n`);
  if (values.html !== undefined) {
    try {
      await writeFile(resolve(values.html), renderHtml(doc));
    } catch (err) {
      // The verdict is out above; the page the user asked for is not, so the command did not do all its job.
      io.stderr.write(`deploy-witness check: cannot write --html ${values.html}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; choose a writable path\n`);
      return 2;
    }
  }
  return doc.exitCode;
}
