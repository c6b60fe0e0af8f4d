import type { Plugin } from 'graphql-yoga';

const pending = new WeakMap<Request, string[]>();

/** The Set-Cookie headers a request's resolvers want on its response. */
export function responseCookiesOf(request: Request): string[] {
  let cookies = pending.get(request);
  if (!cookies) {
    cookies = [];
    pending.set(request, cookies);
  }
  return cookies;
}

/** Writes the cookies resolvers queued (see responseCookiesOf) onto the response. */
export function useResponseCookies(): Plugin {
  return {
    onResponse({ request, response }) {
      const cookies = pending.get(request);
      if (!cookies) return;
      for (const cookie of cookies) response.headers.append('Set-Cookie', cookie);
    },
  };
}
