import type { SignedOutReason } from '../../client/src/index.js';
import { announce, h } from './dom.js';
import { describeError, signedOutMessage } from './errors.js';
import { PageSession } from './session.js';
import { ROUTES, type Route, type ViewContext } from './view.js';
import { devicesView } from './views/devices.js';
import { passwordView } from './views/password.js';
import { profileView } from './views/profile.js';
import { signInView } from './views/sign-in.js';
import { tokensView } from './views/tokens.js';

/**
 * The account page: one view at a time in <main>, chosen by the URL's hash (#profile, #devices,
 * #tokens, #password), so that the back button and bookmarks work without a server route.
 */
const view = document.getElementById('view')!;
const nav = document.getElementById('nav')!;
const userName = document.getElementById('signed-in-user')!;
let leave: (() => void)[] = [];
/** Counts renders, so that a slow view that finishes after the reader moved on is dropped. */
let shown = 0;

const session = new PageSession((reason: SignedOutReason) => showSignIn(signedOutMessage(reason)));

const context: ViewContext = {
  session,
  navigate(route, message) {
    if (window.location.hash === `#${route}`) void render(route, true);
    else window.location.hash = route;
    if (message) announce(message);
  },
  showSignIn: (notice) => showSignIn(notice),
  onLeave(cleanup) {
    leave.push(cleanup);
  },
};

const VIEWS: Record<Route, (context: ViewContext) => HTMLElement | Promise<HTMLElement>> = {
  profile: profileView,
  devices: devicesView,
  tokens: tokensView,
  password: passwordView,
};

function routeOf(hash: string): Route {
  const name = hash.replace(/^#/, '');
  return (ROUTES as readonly string[]).includes(name) ? (name as Route) : 'profile';
}

function leaveView(): void {
  for (const cleanup of leave) cleanup();
  leave = [];
}

/** Shows a view; `focus` moves the focus to its heading, as a page load would for a new page. */
async function render(route: Route, focus: boolean): Promise<void> {
  if (session.user === null) return showSignIn();
  leaveView();
  const current = ++shown;
  nav.hidden = false;
  userName.textContent = session.user.username;
  for (const link of nav.querySelectorAll('a')) {
    if (link.getAttribute('href') === `#${route}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  view.setAttribute('aria-busy', 'true');
  let content: HTMLElement;
  try {
    content = await VIEWS[route](context);
  } catch (error) {
    content = h('section', {}, h('h1', { id: 'view-heading', tabindex: -1 }, 'Something went wrong'), h('p', { role: 'alert' }, describeError(error).message));
  }
  if (current !== shown) return;
  view.removeAttribute('aria-busy');
  // Signed out while the view loaded: the sign-in form has replaced it already.
  if (session.user === null) return;
  view.replaceChildren(content);
  document.title = `${content.querySelector('h1')?.textContent ?? 'Account'} · Your account`;
  if (focus) document.getElementById('view-heading')?.focus();
}

function showSignIn(notice?: string): void {
  leaveView();
  shown += 1;
  nav.hidden = true;
  userName.textContent = '';
  view.removeAttribute('aria-busy');
  view.replaceChildren(signInView(context, notice));
  document.title = 'Sign in · Your account';
  if (notice) announce(notice);
  // The first field, so that a keyboard user types at once.
  view.querySelector<HTMLInputElement>('input')?.focus();
}

document.getElementById('sign-out')!.addEventListener('click', () => {
  session.client.signOut().catch((error: unknown) => announce(describeError(error).message));
});
window.addEventListener('hashchange', () => void render(routeOf(window.location.hash), true));

/** Why a single sign-on that came back here failed (the gateway's sso_error), in words; undefined when none did. */
function singleSignOnFailure(): string | undefined {
  const reason = new URLSearchParams(window.location.search).get('sso_error');
  if (reason === null) return undefined;
  return reason === 'PROVIDER_UNAVAILABLE'
    ? 'Single sign-on failed: the provider could not be reached. Try again later, or sign in another way.'
    : 'Single sign-on did not sign you in. Try again, or sign in another way.';
}

// A page load resumes the session from the refresh-token cookie, if there is one.
session.client
  .resume()
  .then(
    (user) => (user === null ? showSignIn(singleSignOnFailure()) : render(routeOf(window.location.hash), false)),
    (error: unknown) => showSignIn(describeError(error).message),
  )
  .catch(() => showSignIn());
