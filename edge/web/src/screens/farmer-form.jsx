// Register or edit a farmer, with consents. The write is queued on the phone (with an id chosen
// here, so farms can be added before the box has seen the farmer); a rejected registration is
// fixed here too (the box's message shows at its field).
import { useState } from 'preact/hooks';
import { getState, write, amend, newId, creatorOf } from '../store.js';
import { useT, Field, Check, ScreenTitle, go } from '../ui.jsx';

const LANGUAGE_CODES = ['mr', 'hi', 'en', 'te', 'ta', 'kn', 'gu', 'pa', 'bn', 'or'];

/** @param {{ farmerId?: string }} p */
export function FarmerForm(p) {
  const { t } = useT();
  const s = getState();
  const existing = p.farmerId ? s.farmers.find((f) => f.id === p.farmerId) : undefined;
  const villages = s.session?.villages ?? [];
  const [name, setName] = useState(existing?.name ?? '');
  const [phone, setPhone] = useState(existing?.phone ?? '');
  const [language, setLanguage] = useState(existing?.language ?? 'mr');
  const [village, setVillage] = useState(existing?.village_code ?? villages[0] ?? '');
  const [consents, setConsents] = useState(existing?.consents ?? { sms: false, voice: false, data_sharing: false });
  // A rejected create of this farmer, if any: fixing it amends the queued item.
  const rejected = existing ? creatorOf(existing.id) : undefined;
  const rejectedError = rejected?.status === 'rejected' ? rejected.error : null;
  /** @param {string} field */
  const errorAt = (field) => (rejectedError && rejectedError.field === field ? rejectedError.message : null);

  /** @param {Event} e */
  async function save(e) {
    e.preventDefault();
    const body = { name: name.trim(), phone: phone.trim(), language, village_code: village, consents };
    if (!existing) {
      const id = newId();
      await write({ method: 'POST', path: '/api/v1/farmers', body: { id, ...body }, kind: 'create-farmer', label: body.name });
      go(`#/farmer/${id}`);
      return;
    }
    if (rejected) {
      await amend(rejected.id, { id: existing.id, ...body });
      go(`#/farmer/${existing.id}`);
      return;
    }
    /** @type {Record<string, unknown>} */
    const patch = {};
    if (body.name !== existing.name) patch.name = body.name;
    if (body.phone !== existing.phone) patch.phone = body.phone;
    if (body.language !== existing.language) patch.language = body.language;
    if (body.village_code !== existing.village_code) patch.village_code = body.village_code;
    if (JSON.stringify(consents) !== JSON.stringify(existing.consents)) patch.consents = consents;
    if (Object.keys(patch).length) {
      const creator = creatorOf(existing.id);
      await write({
        method: 'PATCH',
        path: `/api/v1/farmers/${existing.id}`,
        body: patch,
        kind: 'patch-farmer',
        label: body.name,
        dependsOn: creator ? [creator.id] : [],
      });
    }
    go(`#/farmer/${existing.id}`);
  }

  return (
    <form onSubmit={save} data-testid="farmer-form">
      <ScreenTitle back={existing ? `#/farmer/${existing.id}` : '#/'} title={existing ? t('farmer-edit') : t('farmer-register')} />
      {rejectedError && !['name', 'phone', 'language', 'village_code'].includes(rejectedError.field ?? '') ? (
        <p class="error" role="alert">
          {rejectedError.message}
        </p>
      ) : null}
      <Field label={t('farmer-name')} name="name" value={name} onInput={setName} required error={errorAt('name')} />
      <Field label={t('farmer-phone')} name="phone" type="tel" inputMode="tel" value={phone} onInput={setPhone} required hint={t('farmer-phone-hint')} error={errorAt('phone')} />
      <label class="field">
        <span class="field-label">{t('farmer-language')}</span>
        <select name="language" value={language} onChange={(e) => setLanguage(/** @type {HTMLSelectElement} */ (e.currentTarget).value)}>
          {LANGUAGE_CODES.map((c) => (
            <option key={c} value={c}>
              {t(`lang-${c}`)}
            </option>
          ))}
        </select>
      </label>
      <label class="field">
        <span class="field-label">{t('farmer-village')}</span>
        <select name="village_code" value={village} onChange={(e) => setVillage(/** @type {HTMLSelectElement} */ (e.currentTarget).value)}>
          {villages.map((v) => (
            <option key={v} value={v}>
              {t('village-code', { code: v })}
            </option>
          ))}
        </select>
        {errorAt('village_code') ? <span class="error">{errorAt('village_code')}</span> : null}
      </label>
      <fieldset>
        <legend>{t('farmer-consents')}</legend>
        <Check name="consent_sms" label={t('consent-sms')} checked={consents.sms} onChange={(v) => setConsents({ ...consents, sms: v })} />
        <Check name="consent_voice" label={t('consent-voice')} checked={consents.voice} onChange={(v) => setConsents({ ...consents, voice: v })} />
        <Check name="consent_data_sharing" label={t('consent-data_sharing')} checked={consents.data_sharing} onChange={(v) => setConsents({ ...consents, data_sharing: v })} />
      </fieldset>
      <button class="primary" type="submit">
        {t('save')}
      </button>
    </form>
  );
}
