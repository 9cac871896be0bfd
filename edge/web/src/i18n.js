// UI language: English, Hindi and Marathi through Fluent catalogues (edge/locales/*/app.ftl, the
// same system and folder as the box's SMS and voice texts). Plurals and number formats come from
// Fluent's selectors over Intl.PluralRules / Intl.NumberFormat in each locale: no string
// concatenation. The catalogues are parsed once per language.

import { FluentBundle, FluentResource } from '@fluent/bundle';

/** @typedef {'en' | 'hi' | 'mr'} Lang */

/** The languages of the app, in the order the switcher shows them (each named in itself). */
export const LANGUAGES = /** @type {const} */ ([
  ['en', 'English'],
  ['hi', 'हिन्दी'],
  ['mr', 'मराठी'],
]);

/**
 * A translator for one language over its catalogue text.
 * @param {Lang} lang
 * @param {string} ftl
 */
export function makeTranslator(lang, ftl) {
  // useIsolating off: no invisible FSI/PDI marks around arguments in labels and inputs.
  const bundle = new FluentBundle(lang, { useIsolating: false });
  const errors = bundle.addResource(new FluentResource(ftl));
  if (errors.length) console.warn(`app.ftl (${lang}):`, errors.map(String).join('; '));
  /**
   * @param {string} id
   * @param {Record<string, string | number | Date>} [args]
   * @returns {string}
   */
  function t(id, args) {
    const msg = bundle.getMessage(id);
    if (!msg || !msg.value) {
      console.warn(`missing message ${id} (${lang})`);
      return id;
    }
    return bundle.formatPattern(msg.value, args);
  }
  /** @param {number} n @param {Intl.NumberFormatOptions} [o] */
  const num = (n, o) => new Intl.NumberFormat(lang === 'en' ? 'en-IN' : lang, o).format(n);
  /** @param {string | number | Date} d */
  const dateTime = (d) =>
    new Intl.DateTimeFormat(lang === 'en' ? 'en-IN' : lang, { dateStyle: 'medium', timeStyle: 'short', hourCycle: 'h23' }).format(new Date(d));
  /** @param {string} d a YYYY-MM-DD date */
  const date = (d) => new Intl.DateTimeFormat(lang === 'en' ? 'en-IN' : lang, { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(`${d}T00:00:00Z`));
  return { lang, t, num, date, dateTime, has: (/** @type {string} */ id) => bundle.hasMessage(id) };
}

/** @typedef {ReturnType<typeof makeTranslator>} Translator */

/**
 * The message ids of a catalogue (for the test that every catalogue has the same ids).
 * @param {string} ftl
 * @returns {string[]}
 */
export function messageIds(ftl) {
  const resource = new FluentResource(ftl);
  return resource.body.map((m) => m.id).sort();
}
