import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readHidden } from '../../src/cli/commands/console-users.js';

/** `console user add` on a terminal: what the typed keys make of the password. */
function terminal(keys: string) {
  const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined });
  const stderr = new PassThrough();
  const read = readHidden({ stdin, stderr, stdout: new PassThrough(), env: {} }, 'Password: ');
  stdin.write(keys);
  return read;
}

describe('readHidden', () => {
  it('control characters (Escape, NUL) are not part of the password; Ctrl-D ends the input', async () => {
    expect(await terminal('correct\u001b horse\u0000x\u007f\r')).toBe('correct horse');
    expect(await terminal('correct horse\u0004')).toBe('correct horse');
  });
});
