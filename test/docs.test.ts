import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';

const root = path.resolve(import.meta.dirname, '..');
const documents = [
  'README.md',
  ...readdirSync(path.join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

describe('the documentation', () => {
  it('links only to files of this repository, each of which exists', () => {
    const broken: string[] = [];
    for (const document of documents) {
      const text = readFileSync(path.join(root, document), 'utf8').replace(/```[\s\S]*?```/g, '');
      const targets = [...text.matchAll(/\]\(([^)\s]+)\)|<([a-z]+:[^>\s]+)>/g)].map((match) => match[1] ?? match[2]);
      for (const target of targets) {
        const file = path.resolve(root, path.dirname(document), target.split('#')[0]);
        const inRepository = !/^[a-z]+:/i.test(target) && file.startsWith(root + path.sep) && existsSync(file);
        if (!inRepository) broken.push(`${document}: ${target}`);
      }
    }
    expect(broken).to.deep.equal([]);
  });
});
