import { DevicesDocument, type DevicesQuery, RevokeDeviceDocument } from '../../../client/src/index.js';
import { announce, formatDate, h } from '../dom.js';
import { describeError } from '../errors.js';
import type { ViewContext } from '../view.js';

type Device = DevicesQuery['devices'][number];

const SESSION_EVENTS = 'subscription SessionEvents { sessionEvents { kind sessionId at } }';

/**
 * The signed-in devices, this one marked, each with a way to sign it out, and a button for all
 * of them. The list follows sign-ins and sign-outs elsewhere live, over a WebSocket that
 * outlives any number of access-token expiries.
 */
export async function devicesView({ session, onLeave }: ViewContext): Promise<HTMLElement> {
  const list = h('ul', { class: 'devices', 'aria-describedby': 'devices-count' });
  const count = h('p', { id: 'devices-count' });
  const alert = h('p', { class: 'alert', role: 'alert', hidden: true });
  const activity = h('ol', { class: 'activity', 'aria-live': 'polite', 'aria-relevant': 'additions' });

  const show = (devices: readonly Device[]): void => {
    count.textContent = devices.length === 1 ? 'One device is signed in.' : `${devices.length} devices are signed in.`;
    list.replaceChildren(...devices.map((device) => deviceItem(device)));
  };
  const reload = async (): Promise<void> => show((await session.client.request(DevicesDocument)).devices);
  const fail = (error: unknown): void => {
    alert.textContent = describeError(error).message;
    alert.hidden = false;
  };

  const deviceItem = (device: Device): HTMLElement => {
    const label = device.current ? 'Sign out this device' : `Sign out ${device.name}`;
    const signOut = h('button', { type: 'button', class: device.current ? '' : 'danger', 'aria-label': label }, 'Sign out');
    signOut.addEventListener('click', () => {
      signOut.disabled = true;
      alert.hidden = true;
      const done = device.current
        ? session.client.signOut()
        : session.client.request(RevokeDeviceDocument, { id: device.id }).then(async () => {
            announce(`${device.name} was signed out.`);
            await reload();
            list.querySelector<HTMLButtonElement>('button')?.focus();
          });
      done.catch((error: unknown) => {
        signOut.disabled = false;
        fail(error);
      });
    });
    return h(
      'li',
      { class: device.current ? 'device current' : 'device', 'data-session-id': device.id },
      h('p', { class: 'device-name' }, h('strong', {}, device.name), device.current ? h('span', { class: 'badge' }, 'This device') : null),
      h(
        'dl',
        { class: 'facts compact' },
        h('dt', {}, 'Browser'),
        h('dd', {}, device.userAgent ?? 'unknown'),
        h('dt', {}, 'Address'),
        h('dd', {}, device.ip ?? 'unknown'),
        h('dt', {}, 'Signed in'),
        h('dd', {}, formatDate(device.createdAt)),
        h('dt', {}, 'Last active'),
        h('dd', {}, formatDate(device.lastUsedAt)),
      ),
      signOut,
    );
  };

  const everywhere = h('button', { type: 'button', class: 'danger' }, 'Sign out everywhere');
  everywhere.addEventListener('click', () => {
    everywhere.disabled = true;
    session.client.signOut({ everywhere: true }).catch((error: unknown) => {
      everywhere.disabled = false;
      fail(error);
    });
  });

  await reload();
  const stop = session.realtime().subscribe<{ sessionEvents: { kind: string; sessionId: string; at: string } }>(
    { query: SESSION_EVENTS },
    {
      next: ({ data }) => {
        if (!data) return;
        const { kind, at } = data.sessionEvents;
        const what = kind === 'SIGNED_IN' ? 'A device signed in' : 'A device was signed out';
        activity.prepend(h('li', {}, `${what} (${formatDate(at)}).`));
        reload().catch(fail);
      },
      error: (error) => fail(error),
      complete: () => {},
    },
  );
  onLeave(stop);

  return h(
    'section',
    { 'aria-labelledby': 'view-heading' },
    h('h1', { id: 'view-heading', tabindex: -1 }, 'Devices'),
    count,
    alert,
    list,
    h('p', {}, everywhere),
    h('section', { 'aria-labelledby': 'activity-heading', class: 'card' }, h('h2', { id: 'activity-heading' }, 'Recent activity'), activity),
  );
}
