// How each Greengrass nucleus reads a recipe, as far as deploy-witness's recipe depends on it.
// Written from the public source, each rule naming the file and function it comes from:
//   lite: aws-greengrass/aws-greengrass-lite (main of July 2026; releases 2.0.0 to 2.6.0 agree
//         on everything used here unless a rule says otherwise)
//   java: aws-greengrass/aws-greengrass-nucleus and aws-greengrass/aws-greengrass-component-common
// The rules return problems as text, so that a test shows what a nucleus would object to.

export type Arch = 'aarch64' | 'amd64';
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

/** Keys that differ from `wanted` only in case: read by the Java nucleus, ignored by nucleus lite. */
function miscased(map: Obj, wanted: readonly string[]): string[] {
  const out: string[] = [];
  for (const k of Object.keys(map)) {
    const w = wanted.find((x) => x.toLowerCase() === k.toLowerCase());
    if (w && w !== k) out.push(`${k} (nucleus lite reads ${w})`);
  }
  return out;
}

// --- nucleus lite ---------------------------------------------------------------------------

/**
 * ggl-recipe/src/recipe.c, ggl_recipe_get_from_file: the recipe file is read into
 * `static uint8_t file_mem[8196]`; a larger file cannot be read.
 */
export const LITE_RECIPE_FILE_MAX = 8196;

/**
 * ggl-recipe/src/recipe.c, get_current_architecture: x86_64 is "amd64", aarch64 is "aarch64"
 * (named "arm" before commit fe077baf of 2024-11-06, first released in 2.0.0).
 */
export const LITE_ARCH: Record<Arch, string> = { aarch64: 'aarch64', amd64: 'amd64' };

/**
 * ggl-recipe/src/recipe.c, manifest_selection and select_linux_manifest: the first manifest whose
 * Platform has runtime "*" or "aws_nucleus_lite" (none: "Greengrass nucleus only"), os
 * linux, "*" or "all", architecture absent, "*" or this core's, and a non-empty Lifecycle map.
 * A manifest without Platform is an error for the whole recipe. Keys are matched exactly.
 */
export function liteSelectManifest(recipe: unknown, arch: Arch): { index: number; manifest: Obj } | { error: string } {
  if (!isObj(recipe) || !Array.isArray(recipe.Manifests)) return { error: 'no Manifests list ("No Manifest found in the recipe")' };
  for (const [index, m] of recipe.Manifests.entries()) {
    if (!isObj(m)) return { error: `Manifests[${index}] is not a map` };
    if (!isObj(m.Platform)) return { error: `Manifests[${index}] has no Platform map ("Platform not provided")` };
    const p = m.Platform;
    if (!isStr(p.runtime) || !['*', 'aws_nucleus_lite'].includes(p.runtime)) continue;
    if (p.os === undefined) continue;
    if (!isStr(p.os) || !['linux', '*', 'all'].includes(p.os)) continue;
    if (p.architecture !== undefined && !isStr(p.architecture)) return { error: `Manifests[${index}].Platform.architecture is not a string` };
    if (p.architecture !== undefined && p.architecture !== '' && p.architecture !== '*' && p.architecture !== LITE_ARCH[arch]) continue;
    if (isObj(m.Lifecycle) && Object.keys(m.Lifecycle).length > 0) return { index, manifest: m };
  }
  return { error: `no manifest for ${arch} ("No lifecycle was found for linux")` };
}

/** recipe2unit/src/unit_file_generator.c, manifest_builder and compatibility_check. */
const LITE_STEPS = ['bootstrap', 'install', 'startup', 'run'] as const;
const LITE_UNSUPPORTED_STEPS = ['shutdown', 'recover'];
/** ggl-recipe/src/recipe.c, process_script_section_as_map (and parse_requiresprivilege_section). */
const LITE_STEP_KEYS = ['Script', 'RequiresPrivilege', 'Setenv', 'Timeout'];

/**
 * ggl-config-interpolation/src/interpolation.c, ggl_substitute_escape: the variables nucleus
 * lite replaces; a configuration pointer reads the component's configuration.
 */
const LITE_VARIABLES = /^(kernel:rootPath|iot:thingName|work:path|artifacts:path|artifacts:decompressedPath|configuration:\/.*)$/;

/**
 * recipe-runner/src/runner.c, process_lifecycle_phase and handle_escape: every "{" in a script
 * opens a variable that runs to the next "}" (at most 256 bytes); anything ggl_substitute_escape
 * does not know fails the step.
 */
export function liteScriptProblems(script: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < script.length; i++) {
    if (script[i] !== '{') continue;
    const end = script.indexOf('}', i + 1);
    if (end < 0) {
      out.push(`script: "{" at ${i} is never closed ("Recipe escape is not terminated")`);
      break;
    }
    const v = script.slice(i + 1, end);
    if (Buffer.byteLength(v) > 256) out.push(`script: variable at ${i} is longer than 256 bytes`);
    if (!LITE_VARIABLES.test(v)) out.push(`script: {${v}} is not a variable nucleus lite knows ("Unhandled variable substitution")`);
    i = end;
  }
  return out;
}

/**
 * ggl-policy-validation/src/policy_validation.c, ggl_validate_policy_resource (called on the
 * DefaultConfiguration's accessControl by ggdeploymentd/src/access_control_validation.c,
 * validate_access_control_policies: a bad resource rejects the deployment): no bare "?", and
 * "${" only as the escapes ${*}, ${?}, ${$}.
 */
export function litePolicyResourceProblems(resource: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < resource.length; i++) {
    const c = resource[i];
    if (c === '?') out.push(`accessControl resource ${resource}: bare "?"`);
    if (c === '$' && resource[i + 1] === '{') {
      if (!['*', '?', '$'].includes(resource[i + 2] ?? '') || resource[i + 3] !== '}') out.push(`accessControl resource ${resource}: "\${" is not one of \${*}, \${?}, \${$}`);
      i += 3;
    }
  }
  // ggipcd/src/ipc_authz.c interpolates {...} in policy resources only since commit 3572e069
  // (2026-07-15, after 2.6.0): in every release a literal {iot:thingName} never matches a topic.
  if (/(^|[^$])\{/.test(resource)) out.push(`accessControl resource ${resource}: recipe variables are not interpolated by nucleus lite releases`);
  return out;
}

/**
 * ggdeploymentd/src/deployment_handler.c, get_recipe_artifacts (with
 * ggl_get_recipe_artifacts_for_platform in ggl-recipe/src/recipe.c): the selected manifest needs
 * an Artifacts list of maps; each artifact needs "Uri" (s3://, greengrass:// or docker:), may
 * carry "Unarchive" (NONE or ZIP), "Digest" (standard base64), "Algorithm" (SHA-256 only) and
 * "Permission". unarchive_artifact unpacks X.zip into artifacts-unarchived/<name>/<version>/X/.
 */
function liteArtifactProblems(manifest: Obj, where: string): string[] {
  const out: string[] = [];
  if (!Array.isArray(manifest.Artifacts)) return [`${where}: no Artifacts list ("Missing required 'Artifacts' key in Manifest")`];
  for (const [i, a] of manifest.Artifacts.entries()) {
    const at = `${where}.Artifacts[${i}]`;
    if (!isObj(a)) {
      out.push(`${at}: not a map`);
      continue;
    }
    out.push(...miscased(a, ['Uri', 'Unarchive', 'Digest', 'Algorithm', 'Permission']).map((k) => `${at}: key ${k}`));
    if (!isStr(a.Uri)) out.push(`${at}: no Uri ("Failed to validate recipe artifact")`);
    else if (!/^(s3|greengrass):\/\/|^docker:/.test(a.Uri)) out.push(`${at}: Uri scheme not s3, greengrass or docker ("Unknown artifact URI scheme")`);
    if (a.Unarchive !== undefined && a.Unarchive !== 'NONE' && a.Unarchive !== 'ZIP') out.push(`${at}: Unarchive ${String(a.Unarchive)} ("Unknown archive type")`);
    if (a.Algorithm !== undefined && a.Algorithm !== 'SHA-256') out.push(`${at}: Algorithm ${String(a.Algorithm)} ("Unsupported digest algorithm")`);
    if (a.Digest !== undefined) {
      if (!isStr(a.Digest) || !/^[A-Za-z0-9+/]{43}=$/.test(a.Digest)) out.push(`${at}: Digest is not the standard base64 of a SHA-256`);
    }
  }
  return out;
}

export interface LiteReading {
  problems: string[];
  /** The manifest chosen for each architecture (its index), where there is one. */
  selected: Partial<Record<Arch, number>>;
}

/** Everything nucleus lite would object to in this recipe, for cores of these architectures. */
export function liteProblems(recipe: unknown, arches: readonly Arch[], fileBytes?: number): LiteReading {
  const problems: string[] = [];
  const selected: LiteReading['selected'] = {};
  if (fileBytes !== undefined && fileBytes > LITE_RECIPE_FILE_MAX) problems.push(`recipe file is ${fileBytes} bytes: nucleus lite reads at most ${LITE_RECIPE_FILE_MAX}`);
  if (!isObj(recipe)) return { problems: [...problems, 'recipe is not a map'], selected };
  // recipe2unit/src/unit_file_generator.c (ComponentName, ComponentVersion), ggl-recipe/src/recipe.c
  // (Manifests), ggdeploymentd/src/deployment_handler.c (ComponentConfiguration, DefaultConfiguration).
  problems.push(...miscased(recipe, ['ComponentName', 'ComponentVersion', 'Manifests', 'ComponentConfiguration', 'ComponentDependencies', 'Lifecycle']).map((k) => `recipe key ${k}`));
  if (!isStr(recipe.ComponentName)) problems.push('no ComponentName');
  if (!isStr(recipe.ComponentVersion)) problems.push('no ComponentVersion');
  if (isObj(recipe.ComponentConfiguration)) {
    problems.push(...miscased(recipe.ComponentConfiguration, ['DefaultConfiguration']).map((k) => `ComponentConfiguration key ${k}`));
    const dc = recipe.ComponentConfiguration.DefaultConfiguration;
    const ac = isObj(dc) ? dc.accessControl : undefined;
    if (isObj(ac)) {
      for (const [service, policies] of Object.entries(ac)) {
        if (!isObj(policies)) continue;
        for (const [name, policy] of Object.entries(policies)) {
          // ggipcd/src/ipc_authz.c, policy_match: operations and resources must be lists of strings.
          if (!isObj(policy) || !Array.isArray(policy.operations) || !Array.isArray(policy.resources) || ![...policy.operations, ...policy.resources].every(isStr)) {
            problems.push(`accessControl ${service} ${name}: needs operations and resources as lists of strings`);
            continue;
          }
          for (const r of policy.resources as string[]) problems.push(...litePolicyResourceProblems(r));
        }
      }
    }
  }
  for (const arch of arches) {
    const sel = liteSelectManifest(recipe, arch);
    if ('error' in sel) {
      problems.push(`${arch}: ${sel.error}`);
      continue;
    }
    selected[arch] = sel.index;
    const where = `${arch}: Manifests[${sel.index}]`;
    const lifecycle = sel.manifest.Lifecycle as Obj;
    problems.push(...miscased(lifecycle, [...LITE_STEPS, ...LITE_UNSUPPORTED_STEPS, 'Setenv']).map((k) => `${where}.Lifecycle: step ${k}`));
    for (const s of LITE_UNSUPPORTED_STEPS) if (s in lifecycle) problems.push(`${where}.Lifecycle: ${s} is not supported by nucleus lite`);
    const step = lifecycle.startup ?? lifecycle.run;
    if (step === undefined) {
      problems.push(`${where}.Lifecycle: neither startup nor run ("No startup or run phase found")`);
    } else if (isStr(step)) {
      problems.push(...liteScriptProblems(step).map((p) => `${where}: ${p}`));
    } else if (isObj(step)) {
      problems.push(...miscased(step, [...LITE_STEP_KEYS, 'Skipif']).map((k) => `${where}: step key ${k}`));
      if ('Skipif' in step) problems.push(`${where}: Skipif is not supported by nucleus lite`);
      if (!isStr(step.Script)) problems.push(`${where}: no Script string ("Script is not in the map")`);
      else problems.push(...liteScriptProblems(step.Script).map((p) => `${where}: ${p}`));
      const rp = step.RequiresPrivilege;
      if (rp !== undefined && rp !== true && rp !== false && rp !== 'true' && rp !== 'false') problems.push(`${where}: RequiresPrivilege must be true or false`);
    } else {
      problems.push(`${where}: the step is neither a script nor a map`);
    }
    problems.push(...liteArtifactProblems(sel.manifest, where));
    problems.push(...unpackedPathProblems(sel.manifest, where));
  }
  return { problems, selected };
}

/**
 * The folder the run script starts from must be one that a ZIP artifact of the same manifest
 * unpacks to: X.zip becomes {artifacts:decompressedPath}/X/ (lite: deployment_handler.c,
 * unarchive_artifact; Java: NucleusPaths.unarchiveArtifactPath with the Unarchiver).
 */
export function unpackedPathProblems(manifest: Obj, where: string): string[] {
  const lifecycle = isObj(manifest.Lifecycle) ? manifest.Lifecycle : {};
  const step = lifecycle.startup ?? lifecycle.run;
  const script = isStr(step) ? step : isObj(step) && isStr(step.Script) ? step.Script : '';
  const folders = new Set(
    (Array.isArray(manifest.Artifacts) ? manifest.Artifacts : [])
      .filter((a): a is Obj => isObj(a) && a.Unarchive === 'ZIP' && isStr(a.Uri))
      .map((a) => (a.Uri as string).split('/').pop()!.replace(/\.zip$/, '')),
  );
  const out: string[] = [];
  for (const m of script.matchAll(/\{artifacts:decompressedPath\}\/([^/"' ]+)/g)) {
    if (!folders.has(m[1]!)) out.push(`${where}: the script runs from {artifacts:decompressedPath}/${m[1]}/, but no ZIP artifact of this manifest unpacks there (${[...folders].join(', ') || 'none'})`);
  }
  return out;
}

// --- the Java nucleus -----------------------------------------------------------------------

/**
 * component-common PlatformHelper.findBestMatch / isAttributeSatisfied: the first manifest all
 * of whose Platform attributes hold for the device ("*" or absent always holds; os "all"/"any"
 * too); the device is os linux and architecture amd64 or aarch64 (PlatformResolver.getArchInfo);
 * the Java nucleus reports no runtime attribute, so only runtime "*" holds.
 */
export function javaSelectManifest(recipe: unknown, arch: Arch): number | undefined {
  if (!isObj(recipe) || !Array.isArray(recipe.Manifests)) return undefined;
  const device: Record<string, string | undefined> = { os: 'linux', architecture: arch };
  for (const [i, m] of recipe.Manifests.entries()) {
    if (!isObj(m)) continue;
    const p = isObj(m.Platform) ? m.Platform : {};
    const ok = Object.entries(p).every(([k, t]) => {
      if (t === undefined || t === null || t === '*') return true;
      if ((k === 'os' || k === 'architecture') && (t === 'all' || t === 'any')) return true;
      return typeof t === 'string' && device[k] === t;
    });
    if (ok) return i;
  }
  return undefined;
}

/**
 * The Java nucleus before 2.6 authorizes mqttproxy resources with MqttTopic.topicIsSupersetOf
 * (MqttProxyIPCAgent.doAuthorization in v2.5.6): "*" alone or an MQTT topic filter; a "*" inside
 * a resource is a literal there (glob wildcards came with WildcardTrie in 2.6.0).
 */
export function javaBefore26ResourceProblems(resource: string): string[] {
  if (resource === '*') return [];
  return resource.includes('*') ? [`accessControl resource ${resource}: "*" inside a resource is literal before Java nucleus 2.6 (use + or #)`] : [];
}

/**
 * KernelConfigResolver SAME_COMPONENT_INTERPOLATION_REGEX: with interpolateComponentConfiguration
 * (2.6 and later), {namespace:key} in configuration values is replaced.
 */
export const JAVA_INTERPOLATION = /\{([.\w-]+):([^:}]*)\}/;

// --- recipe variables, as each nucleus fills them in -----------------------------------------

export interface ComponentPaths {
  rootPath: string;
  componentName: string;
  componentVersion: string;
  thingName: string;
}

/**
 * Java: KernelConfigResolver (artifacts:path, artifacts:decompressedPath, work:path,
 * kernel:rootPath, iot:thingName), paths as Path.toString(), no trailing slash, nothing escaped.
 * Lite: ggl_substitute_escape (trailing slash after work:path and the artifact paths) through
 * recipe-runner/src/runner.c fd_escaped_writer, which puts a backslash before " \ $ and `.
 */
export function substituteVariables(script: string, nucleus: 'java' | 'lite', c: ComponentPaths): string {
  const slash = nucleus === 'lite' ? '/' : '';
  const values: Record<string, string> = {
    'kernel:rootPath': c.rootPath,
    'iot:thingName': c.thingName,
    'work:path': `${c.rootPath}/work/${c.componentName}${slash}`,
    'artifacts:path': `${c.rootPath}/packages/artifacts/${c.componentName}/${c.componentVersion}${slash}`,
    'artifacts:decompressedPath': `${c.rootPath}/packages/artifacts-unarchived/${c.componentName}/${c.componentVersion}${slash}`,
  };
  return script.replace(/\{([^}]*)\}/g, (whole, v: string) => {
    const value = values[v];
    if (value === undefined) throw new Error(`${nucleus}: cannot substitute ${whole}`);
    return nucleus === 'lite' ? value.replace(/["\\$`]/g, '\\$&') : value;
  });
}
