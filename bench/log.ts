/** Progress goes to stderr, so stdout carries only the Markdown report (pipe it anywhere). */
export function log(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 23)}] ${line}\n`);
}
