import {
  CreatePersonalAccessTokenDocument,
  PersonalAccessTokensDocument,
  type PersonalAccessTokensQuery,
  RevokePersonalAccessTokenDocument,
} from '../../../client/src/index.js';
import { announce, field, formAlert, formatDate, h, onSubmit, uniqueId } from '../dom.js';
import { describeError } from '../errors.js';
import type { ViewContext } from '../view.js';

type Token = PersonalAccessTokensQuery['personalAccessTokens'][number];

/** The scopes the gateway checks itself (src/auth/personal-access-tokens/token-scopes.ts), and what each allows. */
const GATEWAY_SCOPES: readonly [scope: string, allows: string][] = [
  ['profile:read', 'read your profile (me)'],
  ['profile:write', 'change your username'],
  ['sessions:read', 'list your devices and follow their sign-ins'],
  ['tokens:read', 'list your access tokens'],
];

const EXPIRIES: readonly [days: string, label: string][] = [
  ['7', '7 days'],
  ['30', '30 days'],
  ['90', '90 days'],
  ['365', 'a year'],
  ['', 'never'],
];

/** Personal access tokens: the list with a revoke button each, and a form that shows a new token's secret once. */
export async function tokensView({ session }: ViewContext): Promise<HTMLElement> {
  const table = h('tbody');
  const empty = h('p', { hidden: true }, 'You have no access tokens.');
  const listAlert = h('p', { class: 'alert', role: 'alert', hidden: true });
  const created = h('div');

  const show = (tokens: readonly Token[]): void => {
    empty.hidden = tokens.length > 0;
    table.replaceChildren(...tokens.map(tokenRow));
  };
  const reload = async (): Promise<void> => show((await session.client.request(PersonalAccessTokensDocument)).personalAccessTokens);

  const tokenRow = (token: Token): HTMLElement => {
    const revoke = h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke ${token.name}` }, 'Revoke');
    revoke.addEventListener('click', () => {
      revoke.disabled = true;
      listAlert.hidden = true;
      session.client
        .request(RevokePersonalAccessTokenDocument, { id: token.id })
        .then(async () => {
          announce(`${token.name} was revoked.`);
          await reload();
          document.getElementById('view-heading')?.focus();
        })
        .catch((error: unknown) => {
          revoke.disabled = false;
          listAlert.textContent = describeError(error).message;
          listAlert.hidden = false;
        });
    });
    return h(
      'tr',
      { 'data-token-id': token.id },
      h('th', { scope: 'row' }, token.name),
      h('td', {}, token.scopes.join(', ')),
      h('td', { class: 'mono' }, `${token.prefix}…`),
      h('td', {}, formatDate(token.createdAt)),
      h('td', {}, formatDate(token.expiresAt)),
      h('td', {}, formatDate(token.lastUsedAt)),
      h('td', {}, revoke),
    );
  };

  const showSecret = (name: string, secret: string): void => {
    const secretField = h('input', { readonly: true, value: secret, class: 'mono secret', id: uniqueId('secret'), spellcheck: 'false' });
    const copy = h('button', { type: 'button' }, 'Copy');
    const copied = h('span', { class: 'hint', 'aria-live': 'polite' });
    copy.addEventListener('click', () => {
      navigator.clipboard.writeText(secret).then(
        () => {
          copied.textContent = 'Copied.';
        },
        () => {
          // Without clipboard access: selected, for the reader to copy by hand.
          secretField.select();
          copied.textContent = 'Select and copy it by hand (Ctrl+C).';
        },
      );
    });
    const dismiss = h('button', { type: 'button' }, 'Done');
    dismiss.addEventListener('click', () => {
      created.replaceChildren();
      document.getElementById('view-heading')?.focus();
    });
    created.replaceChildren(
      h(
        'section',
        { class: 'card secret-card', 'aria-labelledby': 'secret-heading' },
        h('h2', { id: 'secret-heading', tabindex: -1 }, `Your new token “${name}”`),
        h('p', {}, 'Copy it now: it is shown only this once and cannot be read again.'),
        h('p', { class: 'field' }, h('label', { for: secretField.id }, 'Token'), secretField),
        h('p', { class: 'actions' }, copy, ' ', copied),
        h('p', {}, dismiss),
      ),
    );
    document.getElementById('secret-heading')?.focus();
  };

  const alert = formAlert();
  const scopeBoxes = GATEWAY_SCOPES.map(([scope, allows]) => {
    const id = uniqueId('scope');
    return h(
      'p',
      { class: 'check' },
      h('input', { type: 'checkbox', name: 'scope', value: scope, id, checked: scope === 'profile:read' }),
      h('label', { for: id }, h('span', { class: 'mono' }, scope), ` — ${allows}`),
    );
  });
  const expiry = h('select', { name: 'expiresInDays' }, ...EXPIRIES.map(([days, label]) => h('option', { value: days, selected: days === '30' }, label)));
  const form = h(
    'form',
    { name: 'create-token' },
    alert,
    field('Name', h('input', { name: 'name', required: true, maxlength: 100 }), 'What the token is for, e.g. "deploy script".'),
    h('fieldset', {}, h('legend', {}, 'Scopes'), ...scopeBoxes),
    field(
      'Other scopes',
      h('input', { name: 'scopes', spellcheck: 'false', autocapitalize: 'none' }),
      'Application scopes for your services, separated by commas, e.g. orders:read.',
    ),
    field('Expires after', expiry),
    h('p', {}, h('button', { type: 'submit' }, 'Create token')),
  );
  onSubmit(
    form,
    alert,
    async (data) => {
      const other = String(data.get('scopes') ?? '')
        .split(',')
        .map((scope) => scope.trim())
        .filter((scope) => scope !== '');
      const scopes = [...data.getAll('scope').map(String), ...other];
      const days = String(data.get('expiresInDays') ?? '');
      const name = String(data.get('name') ?? '').trim();
      const { createPersonalAccessToken } = await session.client.request(CreatePersonalAccessTokenDocument, {
        input: { name, scopes, ...(days === '' ? {} : { expiresInDays: Number(days) }) },
      });
      form.reset();
      await reload();
      showSecret(createPersonalAccessToken.personalAccessToken.name, createPersonalAccessToken.token);
    },
    describeError,
  );

  await reload();
  return h(
    'section',
    { 'aria-labelledby': 'view-heading' },
    h('h1', { id: 'view-heading', tabindex: -1 }, 'Access tokens'),
    h('p', {}, 'Personal access tokens let scripts and tools act for you with the scopes you choose, without your password.'),
    created,
    listAlert,
    empty,
    h(
      'table',
      { class: 'tokens' },
      h('caption', { class: 'visually-hidden' }, 'Your access tokens'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Name', 'Scopes', 'Starts with', 'Created', 'Expires', 'Last used'].map((title) => h('th', { scope: 'col' }, title)),
          h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')),
        ),
      ),
      table,
    ),
    h('section', { 'aria-labelledby': 'create-heading', class: 'card' }, h('h2', { id: 'create-heading' }, 'Create a token'), form),
  );
}
