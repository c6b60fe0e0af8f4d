import { GraphQLRequestError, MeDocument, RequestEmailCodeDocument, SignInWithEmailCodeDocument } from '../../../client/src/index.js';
import { field, formAlert, h, onSubmit } from '../dom.js';
import { cookiesNotSentMessage, describeError, PageError } from '../errors.js';
import { graphqlEndpoint } from '../session.js';
import type { ViewContext } from '../view.js';

/** Sign in and register, side by side: both are one form away for a new visitor and a returning one. */
export function signInView({ session, navigate, showSignIn }: ViewContext, notice?: string): HTMLElement {
  const afterSignIn = async (): Promise<void> => {
    // The cookies were set on the sign-in answer; a page on another site than the gateway
    // never sends them back, and everything after sign-in fails without saying why. The
    // session has ended by now (its refresh found no cookie either): the form comes back with
    // the reason.
    try {
      await session.client.request(MeDocument);
    } catch (error) {
      if (error instanceof GraphQLRequestError && error.reason === 'TOKEN_MISSING') return showSignIn(cookiesNotSentMessage());
      throw new PageError(`Signed in, but the profile could not be read: ${describeError(error).message}`);
    }
    navigate('profile', 'Signed in.');
  };

  const signIn = credentialsForm('sign-in', 'Sign in', 'current-password', async (data) => {
    await session.client.signIn(credentials(data));
    await afterSignIn();
  });
  const register = credentialsForm('register', 'Create account', 'new-password', async (data) => {
    await session.client.register(credentials(data));
    await afterSignIn();
  });

  const singleSignOn = h('section', { 'aria-labelledby': 'sso-heading', class: 'card', hidden: true }, h('h2', { id: 'sso-heading' }, 'Single sign-on'));
  void showSsoProviders(session.client, singleSignOn);

  return h(
    'section',
    { 'aria-labelledby': 'view-heading' },
    h('h1', { id: 'view-heading', tabindex: -1 }, 'Sign in or create an account'),
    notice ? h('p', { class: 'notice' }, notice) : null,
    h(
      'div',
      { class: 'columns' },
      h('section', { 'aria-labelledby': 'sign-in-heading', class: 'card' }, h('h2', { id: 'sign-in-heading' }, 'Sign in'), signIn),
      h(
        'section',
        { 'aria-labelledby': 'register-heading', class: 'card' },
        h('h2', { id: 'register-heading' }, 'New here?'),
        h('p', {}, 'Create an account with a username and a password.'),
        register,
      ),
    ),
    h('div', { class: 'columns' }, emailCodeCard(session.client, afterSignIn), singleSignOn),
  );
}

/**
 * Sign-in with a code mailed to a verified address: one form asks for the address, the next for
 * the code. The gateway answers the request the same whether or not the address has an account.
 */
function emailCodeCard(client: ViewContext['session']['client'], afterSignIn: () => Promise<void>): HTMLElement {
  let email = '';
  const codeAlert = formAlert();
  const codeForm = h(
    'form',
    { name: 'email-code', hidden: true },
    codeAlert,
    field(
      'Code',
      h('input', { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', required: true, pattern: '[0-9]{6}' }),
      'The 6 digits of the mail we sent; valid 10 minutes.',
    ),
    h('p', {}, h('button', { type: 'submit' }, 'Sign in with the code')),
  );
  onSubmit(
    codeForm,
    codeAlert,
    async (data) => {
      await client.request(SignInWithEmailCodeDocument, { email, code: String(data.get('code') ?? '').trim(), refreshTokenDelivery: 'COOKIE' });
      // The session's cookies were set by that answer; the SDK picks the session up from them.
      await client.resume();
      await afterSignIn();
    },
    describeCodeError,
  );
  const addressAlert = formAlert();
  const addressForm = h(
    'form',
    { name: 'email-address' },
    addressAlert,
    field('Email address', h('input', { name: 'email', type: 'email', autocomplete: 'email', required: true })),
    h('p', {}, h('button', { type: 'submit' }, 'Send me a code')),
  );
  onSubmit(
    addressForm,
    addressAlert,
    async (data) => {
      email = String(data.get('email') ?? '').trim();
      await client.request(RequestEmailCodeDocument, { email, purpose: 'SIGN_IN' });
      codeForm.hidden = false;
      codeForm.querySelector('input')?.focus();
    },
    describeError,
  );
  return h(
    'section',
    { 'aria-labelledby': 'email-code-heading', class: 'card' },
    h('h2', { id: 'email-code-heading' }, 'Sign in with an email code'),
    h('p', {}, 'For an account whose email address is verified.'),
    addressForm,
    codeForm,
  );
}

function describeCodeError(error: unknown): { message: string; field?: string } {
  if (error instanceof GraphQLRequestError && error.code === 'INVALID_CODE')
    return { message: 'That code is wrong or no longer valid. Ask for a new one.', field: 'code' };
  return describeError(error);
}

const SSO_PROVIDERS = 'query SsoProviders { ssoProviders { name displayName } }';

/** One link per configured provider: the browser flow (/auth/sso/<name>) brings the visitor back here, signed in. */
async function showSsoProviders(client: ViewContext['session']['client'], card: HTMLElement): Promise<void> {
  let providers: readonly { name: string; displayName: string }[];
  try {
    providers = (await client.request<{ ssoProviders: { name: string; displayName: string }[] }>(SSO_PROVIDERS)).ssoProviders;
  } catch {
    // Without the list the other ways in still work; the card stays hidden.
    return;
  }
  if (providers.length === 0) return;
  const returnTo = new URL(window.location.href);
  returnTo.hash = '';
  const gateway = new URL(graphqlEndpoint());
  const list = h('ul', { class: 'sso-providers' });
  for (const provider of providers) {
    const start = new URL(`/auth/sso/${encodeURIComponent(provider.name)}`, gateway);
    start.searchParams.set('returnTo', returnTo.href);
    list.append(h('li', {}, h('a', { href: start.href, class: 'button' }, `Sign in with ${provider.displayName}`)));
  }
  card.append(list);
  card.hidden = false;
}

function credentialsForm(name: string, action: string, passwordAutocomplete: string, submit: (data: FormData) => Promise<void>): HTMLFormElement {
  const alert = formAlert();
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: passwordAutocomplete, required: true });
  const form = h(
    'form',
    { name, novalidate: false },
    alert,
    field('Username', username),
    field('Password', password),
    h('p', {}, h('button', { type: 'submit' }, action)),
  );
  onSubmit(form, alert, submit, describeError);
  return form;
}

function credentials(data: FormData): { username: string; password: string } {
  return { username: String(data.get('username') ?? '').trim(), password: String(data.get('password') ?? '') };
}
