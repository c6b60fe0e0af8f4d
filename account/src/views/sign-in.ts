import { GraphQLRequestError, MeDocument } from '../../../client/src/index.js';
import { field, formAlert, h, onSubmit } from '../dom.js';
import { cookiesNotSentMessage, describeError, PageError } from '../errors.js';
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
  );
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
