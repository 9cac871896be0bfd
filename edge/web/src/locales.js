// The app's catalogues, bundled into the shell at build time (from edge/locales/*/app.ftl).
import en from '../../locales/en/app.ftl?raw';
import hi from '../../locales/hi/app.ftl?raw';
import mr from '../../locales/mr/app.ftl?raw';
import { makeTranslator } from './i18n.js';

/** @type {Record<import('./i18n.js').Lang, string>} */
const CATALOGUES = { en, hi, mr };

/** @type {Map<string, import('./i18n.js').Translator>} */
const made = new Map();

/** @param {import('./i18n.js').Lang} lang */
export function translator(lang) {
  let tr = made.get(lang);
  if (!tr) {
    tr = makeTranslator(lang, CATALOGUES[lang] ?? CATALOGUES.en);
    made.set(lang, tr);
  }
  return tr;
}
