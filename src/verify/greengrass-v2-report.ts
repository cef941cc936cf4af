// What a report carries about a Greengrass v2 root: the `observed` and
// `expectation` parts for layout greengrass-v2, and the few fields the
// shadow summary has room for. Pure: built from an observation, a verdict
// context and an expectation. The findings, counts, status and checks parts
// are the layout-free ones of src/verify/report.ts.
import type { BaselineState } from '../model/baseline.js';
import type { GreengrassV2Observation, LifecycleState, NucleusKind } from '../model/greengrass-v2.js';
import { deploymentState } from './greengrass-v2.js';
import type { ExpectedComponent, GreengrassV2Expectation } from './greengrass-v2-expectation.js';

/** Deployment targets a report lists at most. */
export const MAX_TARGETS = 64;

export interface GreengrassV2ObservedComponent {
  name: string;
  version: string;
  /** The version the nucleus runs (config.tlog), when readable; may differ from a stored one. */
  running: string | null;
  /** Newest lifecycle state since the nucleus last started, when known. */
  state: LifecycleState | null;
  recipe: 'ok' | 'invalid' | 'unreadable' | 'missing';
  /** Artifacts the recipe declares (all manifests) and archives inspected. */
  artifacts: number;
  archives: number;
}

export interface GreengrassV2Observed {
  layout: 'greengrass-v2';
  nucleus: NucleusKind;
  v2Root: string;
  /** The newest finished deployment the device recorded. */
  deployment: {
    link: 'previous-success' | 'previous-failure';
    deploymentId: string | null;
    configurationArn: string | null;
    target: string | null;
    deploymentType: string | null;
    /** ISO-8601 UTC of the deployment's creation (the document's Timestamp). */
    createdAt: string | null;
    rootComponents: { name: string; version: string | null }[];
  } | null;
  ongoing: { deploymentId: string | null; stage: string | null; target: string | null } | null;
  /**
   * The deployment targets the device is known to belong to ("thinggroup/<name>",
   * "thing/<name>"): those its deployment records name, and those the nucleus
   * keeps root components for (config.tlog). Sorted, at most MAX_TARGETS.
   */
  targets: string[];
  components: GreengrassV2ObservedComponent[];
  units: { path: string; digest: string; files: number }[];
  /** Set when the report was cut to fit a message and lists only some units. */
  unitsTruncated?: boolean;
  treeDigest: string;
  baseline: { state: BaselineState; createdAt: string | null; treeDigest: string | null; deploymentId: string | null };
  filesHashed: number;
  bytesHashed: number;
}

export interface GreengrassV2ReportContext {
  baseline: { state: BaselineState; createdAt: string | null; treeDigest: string | null; deploymentId: string | null };
}

export function buildGreengrassV2Observed(obs: GreengrassV2Observation, ctx: GreengrassV2ReportContext): GreengrassV2Observed {
  const dep = deploymentState(obs);
  const running = obs.runningVersions.state === 'ok' ? obs.runningVersions.versions : {};
  const states = new Map(obs.componentStates.states.map((s) => [s.name, s.state]));
  const f = dep.finished;
  const targets = new Set<string>();
  for (const r of [dep.ongoing, f]) {
    const t = r?.metadata.groupName;
    if (t && (t.startsWith('thinggroup/') || t.startsWith('thing/'))) targets.add(t);
  }
  if (obs.runningVersions.state === 'ok') {
    for (const t of obs.runningVersions.deploymentGroups ?? []) if (t.startsWith('thinggroup/') || t.startsWith('thing/')) targets.add(t);
  }
  return {
    layout: 'greengrass-v2',
    nucleus: obs.nucleus,
    v2Root: obs.v2Root,
    deployment: f
      ? {
          link: f.link === 'previous-failure' ? 'previous-failure' : 'previous-success',
          deploymentId: f.metadata.deploymentId,
          configurationArn: f.metadata.configurationArn,
          target: f.metadata.groupName,
          deploymentType: f.metadata.deploymentType,
          createdAt: f.metadata.timestamp === null ? null : new Date(f.metadata.timestamp).toISOString(),
          rootComponents: f.metadata.packages.filter((p) => p.rootComponent).map((p) => ({ name: p.name, version: p.resolvedVersion })),
        }
      : null,
    ongoing: dep.ongoing
      ? { deploymentId: dep.ongoing.metadata.deploymentId, stage: dep.ongoing.metadata.deploymentStage, target: dep.ongoing.metadata.groupName }
      : null,
    targets: [...targets].sort().slice(0, MAX_TARGETS),
    components: obs.components.map((c) => ({
      name: c.name,
      version: c.version,
      running: Object.hasOwn(running, c.name) ? running[c.name]! : null,
      state: states.get(c.name) ?? null,
      recipe: c.recipe === null ? 'missing' : c.recipe.state,
      artifacts: c.recipe?.state === 'ok' ? c.recipe.artifacts.length : 0,
      archives: c.archives.length,
    })),
    units: obs.tree.units.map((u) => ({ path: u.path, digest: u.digest, files: Object.keys(u.files).length })),
    treeDigest: obs.tree.treeDigest,
    baseline: ctx.baseline,
    filesHashed: obs.tree.filesHashed,
    bytesHashed: obs.tree.bytesHashed,
  };
}

/** The report's `expectation` part for a v2 expectation. */
export type GreengrassV2ExpectationPart =
  | {
      layout: 'greengrass-v2';
      kind: 'deployment';
      sha256: string;
      requestId: string | null;
      deploymentId: string;
      target: string | null;
      revisionId: string | null;
      components: ExpectedComponent[];
    }
  | {
      layout: 'greengrass-v2';
      kind: 'effective-deployments';
      sha256: string;
      requestId: string | null;
      deployments: { deploymentId: string; target: string; status: string }[];
    };

export function describeGreengrassV2Expectation(exp: GreengrassV2Expectation): GreengrassV2ExpectationPart {
  const common = { layout: exp.layout, sha256: exp.sha256, requestId: exp.requestId ?? null };
  if (exp.kind === 'deployment') {
    return { ...common, kind: 'deployment', deploymentId: exp.deploymentId, target: exp.target ?? null, revisionId: exp.revisionId ?? null, components: exp.components };
  }
  return { ...common, kind: 'effective-deployments', deployments: exp.deployments.map((d) => ({ deploymentId: d.deploymentId, target: d.target, status: d.coreDeviceExecutionStatus })) };
}

/** What the shadow summary (8 KB) keeps of a v2 report: identities and one digest, no lists. */
export function greengrassV2ShadowFields(o: GreengrassV2Observed): Record<string, unknown> {
  return {
    layout: o.layout,
    deploymentId: o.deployment?.deploymentId ?? null,
    deploymentTarget: o.deployment?.target ?? null,
    deploymentLink: o.deployment?.link ?? null,
    ongoingDeploymentId: o.ongoing?.deploymentId ?? null,
    components: o.components.length,
    treeDigest: o.treeDigest,
  };
}
