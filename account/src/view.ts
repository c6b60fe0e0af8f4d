import type { PageSession } from './session.js';

/** The page's views, by the hash that shows them. */
export type Route = 'profile' | 'devices' | 'tokens' | 'password';

export const ROUTES: readonly Route[] = ['profile', 'devices', 'tokens', 'password'];

/** What every view gets: the session, and the way to another view. */
export interface ViewContext {
  readonly session: PageSession;
  /** Shows a view, moving the focus to its heading; `message` is announced. */
  navigate(route: Route, message?: string): void;
  /** Shows the sign-in form, with a notice saying why. */
  showSignIn(notice?: string): void;
  /** Registers what to stop when the view is left (a subscription). */
  onLeave(cleanup: () => void): void;
}
