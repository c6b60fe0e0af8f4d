import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import * as operations from '../src/operations.js';
import { printDocument } from '../src/print-document.js';

/** A document as plain data, without locations and empty lists (codegen leaves those out): what equal documents share. */
function plain(document: unknown): unknown {
  return JSON.parse(JSON.stringify(document, (key, value) => (key === 'loc' || (Array.isArray(value) && value.length === 0) ? undefined : value)));
}

describe('printDocument', () => {
  const documents = Object.entries(operations).filter(([name]) => name.endsWith('Document'));

  it.each(documents)('prints %s to text that parses back to the same document', (_name, document) => {
    const text = printDocument(document as never);
    expect(plain(parse(text, { noLocation: true }))).toEqual(plain(document));
  });

  it('prints every executable construct', () => {
    const source = `
      query Q($id: ID! = "a\\"b", $list: [Int!] = [1, 2], $on: Boolean = true) @cached(ttl: 5) {
        alias: node(id: $id, filter: { kinds: [USER, ADMIN], score: 1.5, none: null }) @include(if: $on) {
          ... on User { name }
          ... @skip(if: false) { id }
          ...Rest
        }
      }
      fragment Rest on Node { id }
      subscription S { events { kind } }
    `;
    const document = parse(source, { noLocation: true });
    expect(plain(parse(printDocument(document), { noLocation: true }))).toEqual(plain(document));
  });

  it('sends a document’s own source when it has one', () => {
    const source = 'query Q { me { id } }';
    expect(printDocument(parse(source))).toBe(source);
  });
});
