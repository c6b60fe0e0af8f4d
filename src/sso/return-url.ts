/** Longer than any address an application sends its users back to; bounds what is stored per sign-in. */
export const MAX_RETURN_URL_LENGTH = 2048;

/**
 * The URL to send a browser to after a sign-in (returnTo, or the redirectUri of startSso), or
 * undefined unless it is safe: an absolute http(s) URL whose origin is one of `origins`, with
 * no user name or password in it. The check is made on the URL as a browser parses it (WHATWG)
 * and the caller redirects to that parse's serialisation, never to the raw text, so that what
 * was checked is what the browser follows. Protocol-relative (`//evil.example`), `javascript:`,
 * `https://app.example@evil.example`, backslashes and control characters are all refused.
 */
export function allowedReturnUrl(raw: string, origins: readonly string[]): URL | undefined {
  if (raw.length > MAX_RETURN_URL_LENGTH) return undefined;
  // Browsers drop tabs and newlines inside URLs and read "\" as "/": text carrying them
  // means something other than it seems to, so it is refused rather than interpreted.
  if (/[\s\\\u0000-\u001f\u007f]/.test(raw)) return undefined;
  if (!/^https?:\/\//i.test(raw) || !URL.canParse(raw)) return undefined;
  const url = new URL(raw);
  if (url.username !== '' || url.password !== '') return undefined;
  return origins.includes(url.origin) ? url : undefined;
}
