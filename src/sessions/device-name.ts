import { BadUserInputError } from '../errors.js';

const MAX_DEVICE_NAME_LENGTH = 100;
const MAX_USER_AGENT_LENGTH = 512;
// Control characters would let a device name forge lines in a UI or a log; bidirectional
// overrides would let it show as something else than it is (CVE-2021-42574).
const CONTROL_OR_BIDI_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

const BROWSERS: readonly [RegExp, string][] = [
  [/Edg(e|A|iOS)?\//, 'Edge'],
  [/OPR\/|Opera/, 'Opera'],
  [/Firefox\/|FxiOS\//, 'Firefox'],
  [/Chrome\/|CriOS\//, 'Chrome'],
  [/Safari\//, 'Safari'],
  [/curl\//, 'curl'],
];
const SYSTEMS: readonly [RegExp, string][] = [
  [/Android/, 'Android'],
  [/iPhone|iPad|iPod/, 'iOS'],
  [/Windows/, 'Windows'],
  [/Mac OS X|Macintosh/, 'macOS'],
  [/CrOS/, 'ChromeOS'],
  [/Linux/, 'Linux'],
];

/** The name a session is shown under: the client's deviceName, else one read off the user agent. */
export function sessionName(deviceName: string | null | undefined, userAgent: string | null): string {
  if (deviceName !== null && deviceName !== undefined) {
    const name = deviceName.trim();
    if (name === '' || name.length > MAX_DEVICE_NAME_LENGTH || CONTROL_OR_BIDI_CHARACTERS.test(name)) {
      throw new BadUserInputError('deviceName', `Device name must be 1 to ${MAX_DEVICE_NAME_LENGTH} printable characters`);
    }
    return name;
  }
  return nameFromUserAgent(userAgent);
}

/** A short label such as "Firefox on Linux" for a user agent; "Unknown device" when there is none. */
export function nameFromUserAgent(userAgent: string | null): string {
  if (!userAgent) return 'Unknown device';
  const browser = BROWSERS.find(([pattern]) => pattern.test(userAgent))?.[1];
  const system = SYSTEMS.find(([pattern]) => pattern.test(userAgent))?.[1];
  if (browser && system) return `${browser} on ${system}`;
  return browser ?? system ?? 'Unknown device';
}

/** The user agent as stored: cut to a bounded length, control and bidirectional-override characters removed. */
export function storedUserAgent(userAgent: string | null): string | null {
  if (!userAgent) return null;
  return userAgent.replace(new RegExp(CONTROL_OR_BIDI_CHARACTERS, 'g'), '').slice(0, MAX_USER_AGENT_LENGTH);
}
