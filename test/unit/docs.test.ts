import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { METRIC } from '../../lib/platform/metric-names.js';
import { DEFAULT_POLICY_DOCUMENT, loadPolicy } from '../../lib/policy/policy-config.js';
import {
  citesHeading,
  codePathsIn,
  docPages,
  filesUnder,
  firstColumnNames,
  headingsOf,
  ignoredByGit,
  jsonBlocks,
  linksIn,
  pathExists,
  ROOT,
  read,
  sectionsOf,
} from '../helpers/markdown.js';
import { POLICY_SCHEMA_FILE, policyJsonSchemaText } from '../helpers/policy-json-schema.js';

/**
 * The documentation stays true to the code: every path it names exists, the
 * configuration reference lists exactly the variables the functions' schemas
 * read, the policy's JSON Schema is the one the code generates, and no page
 * speaks of how the work was organised instead of naming the test.
 */

const ALL_FILES = filesUnder('.');
const PAGES = docPages();
const SOURCES = ['lib', 'functions', 'local', 'ops', 'test', 'deploy', 'bench']
  .flatMap(filesUnder)
  .filter((f) => /\.(ts|mjs|cjs)$/.test(f));

describe('paths and links in README.md and docs/', () => {
  it('names only repository paths that exist (or that a command writes, as .gitignore lists them)', () => {
    // Act
    const missing = PAGES.flatMap((page) =>
      codePathsIn(read(page))
        .filter((p) => !pathExists(p, ALL_FILES) && !ignoredByGit(p))
        .map((p) => `${page}: ${p}`),
    );

    // Assess
    expect(missing).toEqual([]);
  });

  it('links only to files that exist', () => {
    const broken = PAGES.flatMap((page) =>
      linksIn(page, read(page))
        .filter((target) => !pathExists(target, ALL_FILES))
        .map((target) => `${page} → ${target}`),
    );
    expect(broken).toEqual([]);
  });

  it('cites only sections that exist, in the docs and in code comments alike (`page.md, "Section"`)', () => {
    // Prepare: a citation is a docs page, then a quoted heading, e.g. the walk's "Runs" or "Status words".
    const citation = /(?:\]\(([\w./-]+\.md)\)|\b(docs\/[\w.-]+\.md)\b)\)?,?\s+\(?"([^"]+)"/g;
    const texts = [...PAGES, ...SOURCES].map((file) => [file, read(file)] as const);

    // Act
    const dangling = texts.flatMap(([file, text]) =>
      [...text.matchAll(citation)].flatMap((m) => {
        const page = m[1] ? linksIn(file, `](${m[1]})`)[0]! : m[2]!;
        if (!pathExists(page, ALL_FILES)) return [`${file}: ${page} does not exist`];
        const cited = m[3]!.replace(/^\s*\*\s*/gm, '');
        return citesHeading(cited, headingsOf(read(page))) ? [] : [`${file}: ${page} has no section "${cited}"`];
      }),
    );

    // Assess
    expect(dangling).toEqual([]);
  });

  it('has an index in docs/README.md that links every page under docs/', () => {
    const index = new Set(linksIn('docs/README.md', read('docs/README.md')));
    const pages = filesUnder('docs').filter((f) => f !== 'docs/README.md' && /\.(md|json)$/.test(f));
    expect(pages.filter((page) => !index.has(page))).toEqual([]);
  });

  it('keeps the front page a front page: at most 200 lines and 16 KiB', () => {
    const readme = read('README.md');
    expect(readme.split('\n').length).toBeLessThanOrEqual(200);
    expect(Buffer.byteLength(readme, 'utf8')).toBeLessThanOrEqual(16 * 1024);
  });
});

describe('words in README.md, docs/ and the code', () => {
  const bookkeeping = [
    /\bissues?\s+#?\d+/i,
    /\bbranch(es)?\s+[`'"]/i,
    /\b(git|feature)\s+branch/i,
    /\breview(s|ed|ers?)?\b/i,
    /\bpull request/i,
    /\bPR\s*#?\d+/,
  ];
  /** Each line of these files that speaks of bookkeeping, as file:line: text. */
  const bookkeepingIn = (files: readonly string[]) =>
    files.flatMap((file) =>
      read(file)
        .split('\n')
        .flatMap((line, index) =>
          bookkeeping.some((word) => word.test(line)) ? [`${file}:${index + 1}: ${line.trim().slice(0, 100)}`] : [],
        ),
    );

  it('never speak of issues, branches or reviews: a page names the test instead', () => {
    expect(bookkeepingIn(PAGES)).toEqual([]);
  });

  it('no comment or test speaks of them either (this file holds the words it looks for)', () => {
    // Prepare
    const code = ['lib', 'functions', 'ops', 'local', 'bench', 'deploy', 'test']
      .flatMap((folder) => filesUnder(folder))
      .filter((file) => /\.(ts|mts|mjs|cjs|js)$/.test(file) && !file.endsWith('test/unit/docs.test.ts'));

    // Act
    const found = bookkeepingIn(code);

    // Assess
    expect(code.length).toBeGreaterThan(200);
    expect(found).toEqual([]);
  });
});

describe('docs/configuration.md', () => {
  /** Each module of lib/ that reads the environment through readEnv, with the variable lists it exports. */
  async function schemaModules(): Promise<Map<string, string[]>> {
    const readers = filesUnder('lib').filter(
      (f) => f.endsWith('.ts') && /\breadEnv\(/.test(read(f)) && !/\bfunction readEnv\(/.test(read(f)),
    );
    const modules = new Map<string, string[]>();
    for (const file of readers) {
      const exports = (await import(/* @vite-ignore */ path.join(ROOT, file))) as Record<string, unknown>;
      const lists = Object.entries(exports).filter(
        ([name, value]) => name.endsWith('_VARIABLES') && Array.isArray(value),
      );
      modules.set(
        file,
        lists.flatMap(([, value]) => value as string[]),
      );
    }
    return modules;
  }

  it('has one section per environment schema, listing exactly the variables that schema reads', async () => {
    // Prepare: the sections say which module they document, e.g. "… (`lib/config/app-config.ts`)".
    const sections = sectionsOf(read('docs/configuration.md'));
    const modules = await schemaModules();

    // Act
    const documented = new Map(
      [...sections].flatMap(([heading, body]) => {
        const module = /`(lib\/[\w/.-]+\.ts)`/.exec(heading)?.[1];
        return module ? [[module, firstColumnNames(body).sort()] as const] : [];
      }),
    );
    const expected = new Map([...modules].map(([module, names]) => [module, [...names].sort()]));

    // Assess: every schema exports its names (an empty list would mean a schema nobody can document), and the sections
    // match.
    expect(modules.size).toBeGreaterThanOrEqual(3);
    for (const [module, names] of modules)
      expect(names, `${module} reads the environment but exports no *_VARIABLES list`).not.toEqual([]);
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(expected));
  });

  it('lists the variables it does not check apart from every schema variable', async () => {
    const libraries =
      [...sectionsOf(read('docs/configuration.md'))].find(([heading]) =>
        heading.startsWith('Read by the libraries'),
      )?.[1] ?? '';
    const schemaNames = new Set([...(await schemaModules()).values()].flat());
    const named = firstColumnNames(libraries);
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((name) => schemaNames.has(name))).toEqual([]);
  });
});

describe('docs/retry-policy.md and its JSON Schema', () => {
  const schema = JSON.parse(policyJsonSchemaText()) as {
    properties: Record<string, { items?: { properties: Record<string, unknown> } }>;
  };
  const sections = sectionsOf(read('docs/retry-policy.md'));

  it("commits the JSON Schema the policy's schema generates (npm run policy-schema writes it)", () => {
    expect(read(POLICY_SCHEMA_FILE), `${POLICY_SCHEMA_FILE} is stale: run npm run policy-schema`).toBe(
      policyJsonSchemaText(),
    );
  });

  it("describes exactly the policy's fields and a rule's fields", () => {
    // Prepare: "## Fields" has the policy's table, then a rule's.
    const [policyTable, ruleTable] = sections.get('Fields')!.split('\nA rule:\n');

    // Act
    const policyFields = firstColumnNames(policyTable!).sort();
    const ruleFields = firstColumnNames(ruleTable!).sort();

    // Assess
    expect(policyFields).toEqual(Object.keys(schema.properties).sort());
    expect(ruleFields).toEqual(Object.keys(schema.properties['rules']!.items!.properties).sort());
  });

  it('lists the bundled default rules in their order', () => {
    const listed = firstColumnNames(sections.get('The default rules')!);
    expect(listed).toEqual((DEFAULT_POLICY_DOCUMENT as { rules: Array<{ id: string }> }).rules.map((rule) => rule.id));
  });

  it('shows only examples the function accepts as RETRY_POLICY', () => {
    const examples = jsonBlocks(sections.get('Examples')!);
    expect(examples.length).toBeGreaterThan(0);
    for (const example of examples) expect(() => loadPolicy(example)).not.toThrow();
  });
});

describe('docs/operations.md', () => {
  it('names every metric the functions publish', () => {
    const logs = read('docs/operations.md');
    expect(Object.values(METRIC).filter((name) => !logs.includes(`\`${name}\``))).toEqual([]);
  });
});
