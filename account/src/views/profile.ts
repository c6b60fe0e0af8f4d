import { MeDocument, UpdateUsernameDocument } from '../../../client/src/index.js';
import { announce, field, formAlert, formatDate, h, onSubmit } from '../dom.js';
import { describeError } from '../errors.js';
import type { ViewContext } from '../view.js';

/** Who is signed in, and a form to change the username. */
export async function profileView({ session }: ViewContext): Promise<HTMLElement> {
  const { me } = await session.client.request(MeDocument);
  const shownName = h('dd', { id: 'profile-username' }, me.username);
  const alert = formAlert();
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, value: me.username, autocapitalize: 'none', spellcheck: 'false' });
  const form = h('form', { name: 'rename' }, alert, field('New username', username), h('p', {}, h('button', { type: 'submit' }, 'Change username')));
  onSubmit(
    form,
    alert,
    async (data) => {
      const { updateUsername } = await session.client.request(UpdateUsernameDocument, { username: String(data.get('username') ?? '').trim() });
      shownName.textContent = updateUsername.username;
      document.getElementById('signed-in-user')!.textContent = updateUsername.username;
      announce(`Your username is now ${updateUsername.username}.`);
    },
    describeError,
  );
  return h(
    'section',
    { 'aria-labelledby': 'view-heading' },
    h('h1', { id: 'view-heading', tabindex: -1 }, 'Profile'),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Username'),
      shownName,
      h('dt', {}, 'Member since'),
      h('dd', {}, formatDate(me.createdAt)),
      h('dt', {}, 'Account id'),
      h('dd', { class: 'mono' }, me.id),
    ),
    h('section', { 'aria-labelledby': 'rename-heading', class: 'card' }, h('h2', { id: 'rename-heading' }, 'Change your username'), form),
  );
}
