// Splits a child process's output into lines for the test helpers.

/** Calls fn on each complete line; a line that grows past maxChars without ending is dropped as noise. */
export function onLines(stream: NodeJS.ReadableStream, fn: (line: string) => void, maxChars = 1_000_000): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    rest += chunk;
    const lines = rest.split('\n');
    rest = lines.pop() ?? '';
    if (rest.length > maxChars) rest = '';
    for (const line of lines) fn(line);
  });
}
