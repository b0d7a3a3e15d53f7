import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Reading this repository's own Markdown and sources for test/unit/docs.test.ts:
 * which files there are, the code paths and links a page names, its headings,
 * its sections and the first column of its tables. Paths are relative to the
 * repository's root, with `/`.
 */

export const ROOT = path.resolve(__dirname, '../..');

/** Folders that hold nothing of ours: dependencies, build output, reports. */
const SKIPPED = new Set([
  'node_modules',
  '.git',
  '.serverless',
  '.esbuild',
  '.build',
  'reports',
  '.stryker-tmp',
  'coverage',
  '.local-data',
]);

/** Every file under `dir` (relative to the root), skipped folders left out. */
export function filesUnder(dir: string): string[] {
  const full = path.join(ROOT, dir);
  if (!existsSync(full)) return [];
  return readdirSync(full).flatMap((name) => {
    if (SKIPPED.has(name)) return [];
    const rel = dir === '.' ? name : `${dir}/${name}`;
    return statSync(path.join(ROOT, rel)).isDirectory() ? filesUnder(rel) : [rel];
  });
}

export function read(file: string): string {
  return readFileSync(path.join(ROOT, file), 'utf8');
}

/** The front page and every page under docs/. */
export function docPages(): string[] {
  return ['README.md', ...filesUnder('docs').filter((f) => f.endsWith('.md'))];
}

/** The folders whose files a page may name by path. */
const CODE_ROOTS = ['lib', 'functions', 'local', 'ops', 'test', 'deploy', 'bench', 'events', 'docs'];
const CODE_PATH = new RegExp(`(?<![\\w./@:-])((?:${CODE_ROOTS.join('|')})/[\\w./*-]*[\\w*/])`, 'g');

/**
 * Every repository path (file, folder or glob) a text names, e.g. `lib/ledger/store.ts`, `test/model/`,
 * `test/chaos/chaos-*.test.ts`.
 */
export function codePathsIn(text: string): string[] {
  return [...new Set([...text.matchAll(CODE_PATH)].map((m) => m[1]!.replace(/\.$/, '')))];
}

/** Relative Markdown link targets of a page, resolved against its folder (anchors and web links left out). */
export function linksIn(page: string, text: string): string[] {
  const targets = [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!)
    .filter((t) => !/^[a-z]+:/i.test(t) && !t.startsWith('#'));
  return targets.map((t) => path.posix.normalize(path.posix.join(path.posix.dirname(page), t.split('#')[0]!)));
}

/** Whether a named path exists: a file, a folder (`x/`), or a glob with `*` that matches at least one file. */
export function pathExists(named: string, allFiles: readonly string[]): boolean {
  if (named.includes('*')) {
    const pattern = new RegExp(
      `^${named
        .split('*')
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]*')}`,
    );
    return allFiles.some((file) => pattern.test(file));
  }
  return existsSync(path.join(ROOT, named));
}

/** Whether .gitignore names the path: a file some command writes (`npm run stack` writes local/.stack.env). */
export function ignoredByGit(named: string): boolean {
  const entries = read('.gitignore')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  return entries.some(
    (entry) =>
      named === entry ||
      (entry.endsWith('/') && named.startsWith(entry)) ||
      (entry.startsWith('*') && named.endsWith(entry.slice(1))),
  );
}

/** A heading's words as a page cites them: no backticks, single spaces. */
export function headingText(heading: string): string {
  return heading.replace(/`/g, '').replace(/\s+/g, ' ').trim();
}

/** The headings of a Markdown text (outside code fences). */
export function headingsOf(text: string): string[] {
  let fenced = false;
  const headings: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    else if (!fenced && /^#{1,6} /.test(line)) headings.push(headingText(line.replace(/^#+ /, '')));
  }
  return headings;
}

/**
 * Whether `cited` names one of `headings`: the whole heading, or its words before a parenthesis, colon or further
 * words.
 */
export function citesHeading(cited: string, headings: readonly string[]): boolean {
  const words = headingText(cited);
  return headings.some((h) => h === words || (h.startsWith(words) && /^[\s(:,]/.test(h.slice(words.length))));
}

/** The sections of a page by `## ` heading: heading → the text up to the next `## `. */
export function sectionsOf(text: string): Map<string, string> {
  const sections = new Map<string, string>();
  const parts = text.split(/^## /m).slice(1);
  for (const part of parts) {
    const newline = part.indexOf('\n');
    sections.set(part.slice(0, newline).trim(), part.slice(newline + 1));
  }
  return sections;
}

/** The backticked names in the first column of a section's table rows (the header row names none). */
export function firstColumnNames(section: string, name = /`([^`]+)`/g): string[] {
  const rows = section.split('\n').filter((line) => line.startsWith('|') && !/^\|[-| ]+\|$/.test(line));
  return rows.flatMap((row) => [...row.split('|')[1]!.matchAll(name)].map((m) => m[1]!));
}

/** The bodies of the ```json blocks of a text. */
export function jsonBlocks(text: string): string[] {
  return [...text.matchAll(/^```json\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}
