// The phone's copy of the agent's villages and what the agent sees: the box's last snapshot with
// the queued writes laid over it (a farmer registered offline is in the list at once, marked
// "waiting for the box"). Plain module, unit-tested.

import { ringAreaHa, exteriorRings } from './geo.js';

/**
 * @typedef {{ sms: boolean, voice: boolean, data_sharing: boolean }} Consents
 * @typedef {{ id: string, farm_id: string, sampled_on: string, lab: string,
 *   parameters: Record<string, number>, units?: Record<string, string>, advice?: any,
 *   sync?: SyncMark }} SoilTest
 * @typedef {{ id: string, farmer_id: string, survey_number: string, declared_area_ha: number,
 *   area_ha: number, centroid?: { lat: number, lon: number }, boundary: any,
 *   crops: { crop: string, season: string, sowing_date: string }[],
 *   soil_tests: SoilTest[], sync?: SyncMark }} Farm
 * @typedef {{ id: string, name: string, phone: string, language: string, village_code: string,
 *   consents: Consents, created_at?: string, updated_at?: string, farms: Farm[],
 *   sync?: SyncMark }} Farmer
 * @typedef {{ state: 'pending' | 'rejected', queueId: string }} SyncMark
 * @typedef {import('./queue.js').QueueItem} QueueItem
 */

const FARMER_PATH = /^\/api\/v1\/farmers\/([^/]+)$/;
const FARM_CREATE_PATH = /^\/api\/v1\/farmers\/([^/]+)\/farms$/;
const SOIL_CREATE_PATH = /^\/api\/v1\/farms\/([^/]+)\/soil-tests$/;

/**
 * The snapshot with the queue applied, oldest item first. Never mutates its inputs.
 * @param {Farmer[]} farmers
 * @param {QueueItem[]} items
 * @returns {Farmer[]}
 */
export function overlay(farmers, items) {
  /** @type {Map<string, Farmer>} */
  const byId = new Map(farmers.map((f) => [f.id, { ...f, farms: f.farms.map((x) => ({ ...x, soil_tests: [...x.soil_tests] })) }]));
  for (const item of [...items].sort((a, b) => a.seq - b.seq)) {
    /** @type {SyncMark} */
    const mark = { state: item.status, queueId: item.id };
    const body = /** @type {any} */ (item.body);
    let m;
    if (item.kind === 'create-farmer' && body && typeof body.id === 'string') {
      if (!byId.has(body.id)) {
        byId.set(body.id, {
          id: body.id,
          name: body.name,
          phone: body.phone,
          language: body.language,
          village_code: String(body.village_code),
          consents: { sms: false, voice: false, data_sharing: false, ...(body.consents ?? {}) },
          farms: [],
          sync: mark,
        });
      }
    } else if (item.kind === 'patch-farmer' && (m = FARMER_PATH.exec(item.path))) {
      const f = byId.get(m[1]);
      if (f) {
        const patch = { ...body };
        if (patch.village_code !== undefined) patch.village_code = String(patch.village_code);
        if (patch.consents) patch.consents = { ...f.consents, ...patch.consents };
        byId.set(f.id, { ...f, ...patch, sync: f.sync?.state === 'rejected' ? f.sync : mark });
      }
    } else if (item.kind === 'create-farm' && (m = FARM_CREATE_PATH.exec(item.path))) {
      const f = byId.get(m[1]);
      if (f && !f.farms.some((x) => x.id === body.id)) {
        const ring = exteriorRings(body.boundary)[0] ?? [];
        f.farms.push({
          id: body.id,
          farmer_id: f.id,
          survey_number: body.survey_number,
          declared_area_ha: body.declared_area_ha,
          area_ha: ringAreaHa(ring),
          boundary: body.boundary,
          crops: body.crops ?? [],
          soil_tests: [],
          sync: mark,
        });
      }
    } else if (item.kind === 'create-soil-test' && (m = SOIL_CREATE_PATH.exec(item.path))) {
      const farmId = m[1];
      for (const f of byId.values()) {
        const farm = f.farms.find((x) => x.id === farmId);
        if (farm && !farm.soil_tests.some((t) => t.id === body.id)) {
          farm.soil_tests.push({ id: body.id, farm_id: farmId, sampled_on: body.sampled_on, lab: body.lab, parameters: body.parameters, sync: mark });
        }
      }
    }
  }
  return [...byId.values()];
}

/**
 * Does a farmer match a search? Name substring in any script (NFC, case-folded), or at least
 * three digits of the phone number.
 * @param {Farmer} f
 * @param {string} q
 */
export function matches(f, q) {
  const query = q.normalize('NFC').trim().toLocaleLowerCase();
  if (!query) return true;
  if ((f.name ?? '').normalize('NFC').toLocaleLowerCase().includes(query)) return true;
  const digits = query.replace(/\D/g, '');
  return digits.length >= 3 && (f.phone ?? '').replace(/\D/g, '').includes(digits);
}

/**
 * Farmers of a village (or all when `village` is empty) matching a search, sorted by name.
 * @param {Farmer[]} farmers
 * @param {string} q
 * @param {string} village
 */
export function search(farmers, q, village) {
  return farmers
    .filter((f) => (!village || f.village_code === village) && matches(f, q))
    .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}
