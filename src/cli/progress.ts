// A progress line on a terminal during long hashing; silent elsewhere so
// logs and pipes stay clean.
export interface Progress {
  update(p: { files: number; bytes: number }): void;
  done(): void;
}

export function progressLine(stream: NodeJS.WriteStream = process.stderr, everyMs = 250): Progress {
  if (!stream.isTTY) return { update() {}, done() {} };
  let last = 0;
  let shown = false;
  const started = Date.now();
  return {
    update({ files, bytes }) {
      const now = Date.now();
      if (now - last < everyMs) return;
      last = now;
      shown = true;
      const mb = bytes / 1e6;
      const rate = mb / Math.max(0.001, (now - started) / 1000);
      stream.write(`\r\x1b[2Khashing: ${files} files, ${mb.toFixed(1)} MB (${rate.toFixed(0)} MB/s)`);
    },
    done() {
      if (shown) stream.write('\r\x1b[2K');
    },
  };
}
