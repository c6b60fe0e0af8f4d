import { ChangePasswordDocument } from '../../../client/src/index.js';
import { announce, field, formAlert, h, onSubmit } from '../dom.js';
import { describeError, PageError } from '../errors.js';
import type { ViewContext } from '../view.js';

/** Changing the password, which signs out every other device. */
export function passwordView({ session }: ViewContext): HTMLElement {
  const alert = formAlert();
  const done = h('p', { class: 'notice', hidden: true });
  const current = h('input', { name: 'currentPassword', type: 'password', autocomplete: 'current-password', required: true });
  const next = h('input', { name: 'newPassword', type: 'password', autocomplete: 'new-password', required: true });
  const repeat = h('input', { name: 'repeatPassword', type: 'password', autocomplete: 'new-password', required: true });
  const form = h(
    'form',
    { name: 'change-password' },
    alert,
    field('Current password', current),
    field('New password', next),
    field('New password again', repeat),
    h('p', {}, h('button', { type: 'submit' }, 'Change password')),
  );
  onSubmit(
    form,
    alert,
    async (data) => {
      done.hidden = true;
      if (data.get('newPassword') !== data.get('repeatPassword')) throw new MismatchError();
      await session.client.request(ChangePasswordDocument, {
        currentPassword: String(data.get('currentPassword')),
        newPassword: String(data.get('newPassword')),
      });
      form.reset();
      done.textContent = 'Password changed. Your other devices were signed out; this one stays signed in.';
      done.hidden = false;
      announce(done.textContent);
    },
    (error) => (error instanceof MismatchError ? { message: error.message, field: 'repeatPassword' } : describeError(error)),
  );
  return h(
    'section',
    { 'aria-labelledby': 'view-heading' },
    h('h1', { id: 'view-heading', tabindex: -1 }, 'Password'),
    h('p', {}, 'Changing your password signs out every other device.'),
    done,
    form,
  );
}

class MismatchError extends PageError {
  constructor() {
    super('The two new passwords differ.');
  }
}
