// Small shared pieces of the screens: the translator hook, links, fields, banners.

import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

/** @type {import('preact').Context<import('./i18n.js').Translator | null>} */
export const I18n = createContext(/** @type {import('./i18n.js').Translator | null} */ (null));

/** @returns {import('./i18n.js').Translator} */
export function useT() {
  const tr = useContext(I18n);
  if (!tr) throw new Error('no translator');
  return tr;
}

/** @param {string} hash */
export function go(hash) {
  location.hash = hash;
}

/**
 * Data shown as is (names, phone numbers, survey numbers, units): excluded from the language
 * check by the HTML `translate={false}` attribute.
 * @param {{ children: import('preact').ComponentChildren, class?: string }} props
 */
export function Data(props) {
  return (
    <span translate={false} class={props.class}>
      {props.children}
    </span>
  );
}

/**
 * A labelled input with the box's error under it when its field failed.
 * @param {{ label: import('preact').ComponentChildren, name: string, value: string, onInput: (v: string) => void,
 *   type?: string, error?: string | null, inputMode?: string, min?: number, max?: number,
 *   step?: string, required?: boolean, hint?: string, autocomplete?: string }} p
 */
export function Field(p) {
  return (
    <label class={`field${p.error ? ' has-error' : ''}`}>
      <span class="field-label">{p.label}</span>
      <input
        name={p.name}
        type={p.type ?? 'text'}
        value={p.value}
        inputMode={/** @type {any} */ (p.inputMode)}
        min={p.min}
        max={p.max}
        step={p.step}
        required={p.required}
        autocomplete={p.autocomplete}
        onInput={(e) => p.onInput(/** @type {HTMLInputElement} */ (e.currentTarget).value)}
      />
      {p.hint ? <span class="hint">{p.hint}</span> : null}
      {p.error ? (
        <span class="error" role="alert">
          {p.error}
        </span>
      ) : null}
    </label>
  );
}

/**
 * @param {{ label: string, checked: boolean, onChange: (v: boolean) => void, name: string }} p
 */
export function Check(p) {
  return (
    <label class="check">
      <input type="checkbox" name={p.name} checked={p.checked} onChange={(e) => p.onChange(/** @type {HTMLInputElement} */ (e.currentTarget).checked)} />
      <span>{p.label}</span>
    </label>
  );
}

/**
 * @param {{ back?: string, title: import('preact').ComponentChildren, children?: import('preact').ComponentChildren }} p
 */
export function ScreenTitle(p) {
  const { t } = useT();
  return (
    <div class="screen-title">
      {p.back ? (
        <a class="back" href={p.back} aria-label={t('nav-back')}>
          ‹
        </a>
      ) : null}
      <h1>{p.title}</h1>
      {p.children}
    </div>
  );
}
