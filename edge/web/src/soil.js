// The Soil Health Card parameters: keys, units and plausible ranges, the same as the box's
// `farmco_sync::SoilParameter` (sync/src/model.rs); the box validates again.

/** @typedef {{ key: string, unit: string, min: number, max: number, step: string }} SoilParameter */

/** @type {readonly SoilParameter[]} */
export const SOIL_PARAMETERS = Object.freeze([
  { key: 'ph', unit: 'pH', min: 2, max: 11, step: '0.1' },
  { key: 'ec', unit: 'dS/m', min: 0, max: 20, step: '0.01' },
  { key: 'oc', unit: '%', min: 0, max: 10, step: '0.01' },
  { key: 'n', unit: 'kg/ha', min: 0, max: 2000, step: '1' },
  { key: 'p', unit: 'kg/ha', min: 0, max: 500, step: '0.1' },
  { key: 'k', unit: 'kg/ha', min: 0, max: 3000, step: '1' },
  { key: 's', unit: 'ppm', min: 0, max: 500, step: '0.1' },
  { key: 'zn', unit: 'ppm', min: 0, max: 100, step: '0.01' },
  { key: 'fe', unit: 'ppm', min: 0, max: 1000, step: '0.01' },
  { key: 'cu', unit: 'ppm', min: 0, max: 100, step: '0.01' },
  { key: 'mn', unit: 'ppm', min: 0, max: 1000, step: '0.01' },
  { key: 'b', unit: 'ppm', min: 0, max: 50, step: '0.01' },
]);

/**
 * Parse the form's text values: numbers in range, empty ones left out.
 * @param {Record<string, string>} values
 * @returns {{ parameters: Record<string, number>, errors: Record<string, 'not_a_number' | 'out_of_range'> }}
 */
export function parseSoilForm(values) {
  /** @type {Record<string, number>} */
  const parameters = {};
  /** @type {Record<string, 'not_a_number' | 'out_of_range'>} */
  const errors = {};
  for (const p of SOIL_PARAMETERS) {
    const raw = (values[p.key] ?? '').trim().replace(',', '.');
    if (!raw) continue;
    const v = Number(raw);
    if (!Number.isFinite(v)) errors[p.key] = 'not_a_number';
    else if (v < p.min || v > p.max) errors[p.key] = 'out_of_range';
    else parameters[p.key] = v;
  }
  return { parameters, errors };
}
