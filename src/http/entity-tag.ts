import { createHash } from 'node:crypto';

/** One entity-tag of a list (RFC 9110 §8.8.3): optional weakness marker, then the quoted opaque tag. */
const ENTITY_TAG = /(?:W\/)?("[\x21\x23-\x7e\x80-\xff]*")/g;

/**
 * A strong entity-tag for a body: the quoted SHA-256 of its UTF-8 bytes, so that every instance
 * serving the same bytes names them the same and a cache revalidating against any of them gets
 * a 304.
 */
export function strongEntityTag(body: string): string {
  return `"${createHash('sha256').update(body, 'utf8').digest('base64url')}"`;
}

/**
 * Whether an `If-None-Match` field value names the representation whose entity-tag is `etag`,
 * that is, whether its condition is false and a GET or HEAD is answered 304 (RFC 9110 §13.1.2):
 * `*` names any current representation; a list names it when one of its members matches by the
 * weak comparison, which ignores the `W/` marker on either side. A value that parses to nothing
 * names nothing, so a malformed header costs a full answer, never a wrong 304.
 */
export function ifNoneMatchNames(fieldValue: string | null, etag: string): boolean {
  if (fieldValue === null) return false;
  if (fieldValue.trim() === '*') return true;
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag;
  for (const [, listed] of fieldValue.matchAll(ENTITY_TAG)) if (listed === opaque) return true;
  return false;
}
