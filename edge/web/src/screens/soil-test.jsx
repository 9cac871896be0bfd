// Soil test entry: the Soil Health Card parameters with units and plausible ranges; queued on
// the phone, sent when the box answers. The box's advice shows on the farmer's page.
import { useState } from 'preact/hooks';
import { getState, write, newId, creatorOf } from '../store.js';
import { SOIL_PARAMETERS, parseSoilForm } from '../soil.js';
import { useT, Field, ScreenTitle, go, Data } from '../ui.jsx';

/** @param {{ farmerId: string, farmId: string }} p */
export function SoilTestForm(p) {
  const { t, num } = useT();
  const farmer = getState().farmers.find((f) => f.id === p.farmerId);
  const farm = farmer?.farms.find((f) => f.id === p.farmId);
  const [sampledOn, setSampledOn] = useState(new Date().toISOString().slice(0, 10));
  const [lab, setLab] = useState('');
  const [values, setValues] = useState(/** @type {Record<string, string>} */ ({}));
  const [error, setError] = useState(/** @type {string | null} */ (null));
  if (!farmer || !farm) return <ScreenTitle back="#/" title={t('farmer-not-found')} />;
  const { parameters, errors } = parseSoilForm(values);
  /** @param {Event} e */
  async function save(e) {
    e.preventDefault();
    if (!farmer || !farm) return;
    if (Object.keys(errors).length) return;
    if (!Object.keys(parameters).length) {
      setError(t('soil-need-one'));
      return;
    }
    if (!lab.trim()) {
      setError(t('soil-need-lab'));
      return;
    }
    const creator = creatorOf(farm.id);
    await write({
      method: 'POST',
      path: `/api/v1/farms/${farm.id}/soil-tests`,
      body: { id: newId(), sampled_on: sampledOn, lab: lab.trim(), parameters },
      kind: 'create-soil-test',
      label: `${farmer.name} · ${farm.survey_number}`,
      dependsOn: creator ? [creator.id] : [],
    });
    go(`#/farmer/${farmer.id}`);
  }
  return (
    <form onSubmit={save} data-testid="soil-form">
      <ScreenTitle back={`#/farmer/${farmer.id}`} title={t('soil-test-add')} />
      <Field label={t('soil-sampled-on')} name="sampled_on" type="date" value={sampledOn} onInput={setSampledOn} required />
      <Field label={t('soil-lab')} name="lab" value={lab} onInput={setLab} required />
      <div class="grid2">
        {SOIL_PARAMETERS.map((sp) => (
          <Field
            key={sp.key}
            label={
              <>
                {t(`soil-${sp.key}`)} <Data>({sp.unit})</Data>
              </>
            }
            name={sp.key}
            type="text"
            inputMode="decimal"
            value={values[sp.key] ?? ''}
            onInput={(v) => setValues({ ...values, [sp.key]: v })}
            hint={t('soil-range', { min: num(sp.min), max: num(sp.max) })}
            error={errors[sp.key] ? t(`soil-error-${errors[sp.key]}`) : null}
          />
        ))}
      </div>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <button class="primary" type="submit">
        {t('save')}
      </button>
    </form>
  );
}
