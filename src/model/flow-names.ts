// How flow resources are named: `flow-<name>.tar.gz` archives and the
// `flow-<name>` folders they unpack to. One place, so finding a flow, judging
// it and re-reading it after a change agree on what a flow looks like.

/** The archive's name without its extension: the flow resource's own name. */
export function stripArchiveExt(name: string): string {
  return name.replace(/\.(tar\.gz|tgz)$/i, '');
}

/** The folder pattern that goes with an archive pattern: the same name without `.tar.gz`. */
export function flowFolderPattern(archivePattern: string): RegExp {
  return new RegExp(archivePattern.replace(/\\\.tar\\\.gz\$?$/, '$'));
}
