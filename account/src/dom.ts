/** What an element may hold: nodes, text, and nothing (null, undefined, false are skipped). */
export type Child = Node | string | null | undefined | false;

type Attributes = Record<string, string | number | boolean | null | undefined | EventListener>;

/**
 * Builds an element. Text is set as text, never parsed as HTML: the page has no innerHTML at all,
 * so that nothing from the gateway (a device name, a token name) can become markup. Attributes
 * named `on…` with a function become event listeners; `true` sets a boolean attribute, and
 * false, null and undefined leave it out.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (typeof value === 'function') element.addEventListener(name.slice(2).toLowerCase(), value);
    else if (value === true) element.setAttribute(name, '');
    else if (value !== false && value !== null && value !== undefined) element.setAttribute(name, String(value));
  }
  element.append(...children.filter((child): child is Node | string => child !== null && child !== undefined && child !== false));
  return element;
}

let ids = 0;
/** A document-unique id, to tie a label or a message to its field. */
export function uniqueId(prefix: string): string {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** A labelled input; `hint` is tied to it with aria-describedby. */
export function field(label: string, input: HTMLInputElement | HTMLSelectElement, hint?: string): HTMLElement {
  input.id ||= uniqueId(input.name || 'field');
  const hintElement = hint === undefined ? null : h('p', { class: 'hint', id: `${input.id}-hint` }, hint);
  if (hintElement) input.setAttribute('aria-describedby', hintElement.id);
  return h('p', { class: 'field' }, h('label', { for: input.id }, label), input, hintElement);
}

/** Says something to screen readers without moving focus (the page's polite live region). */
export function announce(message: string): void {
  const status = document.getElementById('status');
  if (!status) return;
  // Emptied first so that the same message twice is announced twice.
  status.textContent = '';
  window.setTimeout(() => {
    status.textContent = message;
  }, 50);
}

/** A date from the gateway as the reader's locale writes it. */
export function formatDate(iso: string | null | undefined, fallback = 'never'): string {
  if (iso === null || iso === undefined) return fallback;
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/**
 * Runs a form's submission: the button is disabled meanwhile (no double submit), and a failure
 * is shown in the form's alert and on the field the gateway named, which gets the focus.
 */
export function onSubmit(
  form: HTMLFormElement,
  alert: HTMLElement,
  submit: (data: FormData) => Promise<void>,
  describe: (error: unknown) => { message: string; field?: string },
): void {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const buttons = [...form.querySelectorAll('button')];
    for (const button of buttons) button.disabled = true;
    clearErrors(form, alert);
    submit(new FormData(form))
      .catch((error: unknown) => {
        const { message, field: name } = describe(error);
        alert.textContent = message;
        alert.hidden = false;
        const input = name === undefined ? null : form.querySelector<HTMLInputElement>(`[name="${CSS.escape(name)}"]`);
        if (input) {
          input.setAttribute('aria-invalid', 'true');
          input.setAttribute('aria-errormessage', alert.id);
          input.focus();
        }
      })
      .finally(() => {
        for (const button of buttons) if (button.isConnected) button.disabled = false;
      });
  });
}

function clearErrors(form: HTMLFormElement, alert: HTMLElement): void {
  alert.textContent = '';
  alert.hidden = true;
  for (const input of form.querySelectorAll('[aria-invalid]')) {
    input.removeAttribute('aria-invalid');
    input.removeAttribute('aria-errormessage');
  }
}

/** The alert a form reports its failures in. */
export function formAlert(): HTMLElement {
  return h('p', { class: 'alert', role: 'alert', id: uniqueId('alert'), hidden: true });
}
