import type { EmailCodePurpose } from '../../db/tables.js';
import type { OutgoingMail } from '../../mail/mail-transport.js';

const SUBJECTS: Readonly<Record<EmailCodePurpose, string>> = Object.freeze({
  SIGN_IN: 'Your sign-in code',
  VERIFY_EMAIL: 'Verify your email address',
  RESET_PASSWORD: 'Reset your password',
});

const ACTIONS: Readonly<Record<EmailCodePurpose, string>> = Object.freeze({
  SIGN_IN: 'sign in',
  VERIFY_EMAIL: 'verify this email address',
  RESET_PASSWORD: 'set a new password',
});

/** The mail that carries a code: plain text, the code on a line of its own. */
export function codeMail(to: string, purpose: EmailCodePurpose, code: string, validMinutes: number): OutgoingMail {
  return {
    to,
    subject: SUBJECTS[purpose],
    text: [
      `Your code to ${ACTIONS[purpose]}:`,
      '',
      `    ${code}`,
      '',
      `It is valid for ${validMinutes} minutes and works once. If you did not ask for it, ignore this message: nothing changes without the code.`,
      '',
    ].join('\n'),
  };
}
