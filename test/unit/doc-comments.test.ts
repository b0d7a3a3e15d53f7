import { describe, expect, it } from 'vitest';
import { filesUnder, read } from '../helpers/markdown.js';

/**
 * Doc comments sit on what they describe. A `/** … *\/` block followed by a
 * blank line documents nothing (an editor shows it on no declaration), unless
 * it is the file comment at the top of the file; and every exported function
 * and class in lib/ has a doc comment directly above it, so its hover says
 * what it does. Failures name the file and line.
 */

const SOURCES = ['lib', 'local', 'ops'].flatMap(filesUnder).filter((f) => /\.(ts|mjs|cjs)$/.test(f));
const LIB = SOURCES.filter((f) => f.startsWith('lib/') && f.endsWith('.ts'));

interface Block {
  /** 1-based lines of `/**` and of the `*\/` that closes it. */
  readonly start: number;
  readonly end: number;
}

function docBlocks(lines: readonly string[]): Block[] {
  const blocks: Block[] = [];
  let start: number | undefined;
  lines.forEach((line, i) => {
    const text = line.trim();
    if (start === undefined && text.startsWith('/**')) start = i;
    if (start !== undefined && text.endsWith('*/')) {
      blocks.push({ start: start + 1, end: i + 1 });
      start = undefined;
    }
  });
  return blocks;
}

/** The file comment: a doc comment that is the first thing in the file (after a shebang), before any import. */
function isFileComment(lines: readonly string[], block: Block): boolean {
  return lines.slice(0, block.start - 1).every((line) => line.trim() === '' || line.startsWith('#!'));
}

/** Doc comments followed by a blank line, other than the file comment, as `file:line`. */
function detachedDocComments(file: string, text: string): string[] {
  const lines = text.split('\n');
  return docBlocks(lines)
    .filter((block) => lines[block.end]?.trim() === '' && !isFileComment(lines, block))
    .map((block) => `${file}:${block.start}: doc comment is separated from the code after it by a blank line`);
}

const FUNCTION_OR_CLASS = /^export (?:default )?(?:async function|function|class|abstract class)\b/;

/** Exported functions and classes with no doc comment directly above them, as `file:line`. */
function undocumentedFunctionsAndClasses(file: string, text: string): string[] {
  const lines = text.split('\n');
  const documented = new Set(docBlocks(lines).map((block) => block.end + 1));
  return lines.flatMap((line, i) =>
    FUNCTION_OR_CLASS.test(line) && !documented.has(i + 1) ? [`${file}:${i + 1}: ${line.slice(0, 80)}`] : [],
  );
}

describe('doc comments', () => {
  it('finds a detached comment and an undocumented export, by line', () => {
    // Prepare
    const text = [
      '/** The file comment. */',
      '',
      "import { x } from './x.js';",
      '',
      '/** An overview that documents nothing. */',
      '',
      '/** Documented. */',
      'export function documented(): void {}',
      '',
      'export class Bare {}',
    ].join('\n');

    // Act, Assess
    expect(detachedDocComments('lib/x.ts', text)).toEqual([
      'lib/x.ts:5: doc comment is separated from the code after it by a blank line',
    ]);
    expect(undocumentedFunctionsAndClasses('lib/x.ts', text)).toEqual(['lib/x.ts:10: export class Bare {}']);
  });

  it('has no doc comment in lib/, local/ or ops/ separated by a blank line from the code after it', () => {
    const detached = SOURCES.flatMap((file) => detachedDocComments(file, read(file)));
    expect(
      detached,
      `move a file's overview above its imports, or put the comment directly on what it describes:\n${detached.join('\n')}`,
    ).toEqual([]);
  });

  it('has a doc comment directly above every exported function and class in lib/', () => {
    const bare = LIB.flatMap((file) => undocumentedFunctionsAndClasses(file, read(file)));
    expect(bare, `say what each does and what a caller must know:\n${bare.join('\n')}`).toEqual([]);
  });
});
