// Farm boundary capture, two ways: walk the boundary with the phone's GPS (live area, accuracy
// shown, points with poor accuracy dropped, close the ring) or tap the vertices on a map that
// shows the neighbouring farms. A self-crossing ring is flagged before sending; the box's own
// validation error (a rejected queued farm) shows at the failing vertex, to fix and resend.
import { useEffect, useRef, useState } from 'preact/hooks';
import { getState, write, amend, newId, creatorOf } from '../store.js';
import { exteriorRings, judgeFix, openRing, polygonOf, ringAreaHa, selfIntersectionVertex, vertexOfField, WALK_ACCURACY_M_MAX } from '../geo.js';
import { useT, Field, ScreenTitle, go, Data } from '../ui.jsx';
import { FarmMap } from '../map.jsx';

/** @typedef {import('../geo.js').LonLat} LonLat */

/** @param {{ farmerId: string, fixId?: string }} p */
export function FarmCapture(p) {
  const { t, num } = useT();
  const s = getState();
  const farmer = s.farmers.find((f) => f.id === p.farmerId);
  const fixing = p.fixId ? s.queue.find((i) => i.id === p.fixId) : undefined;
  const fixBody = /** @type {any} */ (fixing?.body);
  const [mode, setMode] = useState(/** @type {'walk' | 'tap'} */ ('walk'));
  const [vertices, setVertices] = useState(/** @type {LonLat[]} */ (fixBody ? openRing(fixBody.boundary.coordinates[0]) : []));
  const [closed, setClosed] = useState(Boolean(fixBody));
  const [fix, setFix] = useState(/** @type {{ lon: number, lat: number, accuracy: number } | null} */ (null));
  const [dropped, setDropped] = useState(0);
  const [watching, setWatching] = useState(false);
  const [gpsError, setGpsError] = useState(/** @type {string | null} */ (null));
  const [survey, setSurvey] = useState(fixBody?.survey_number ?? '');
  const [declared, setDeclared] = useState(fixBody ? String(fixBody.declared_area_ha) : '');
  const [crop, setCrop] = useState(fixBody?.crops?.[0]?.crop ?? '');
  const [season, setSeason] = useState(fixBody?.crops?.[0]?.season ?? 'kharif');
  const [formError, setFormError] = useState(/** @type {string | null} */ (null));
  const watchId = useRef(/** @type {number | null} */ (null));
  const kept = useRef(/** @type {LonLat[]} */ (vertices));
  kept.current = vertices;

  useEffect(() => () => stopWalk(), []);

  if (!farmer) return <ScreenTitle back="#/" title={t('farmer-not-found')} />;

  function startWalk() {
    if (!('geolocation' in navigator)) {
      setGpsError(t('gps-unavailable'));
      return;
    }
    setClosed(false);
    setGpsError(null);
    setWatching(true);
    watchId.current = navigator.geolocation.watchPosition(
      (pos) => {
        const f = { lon: pos.coords.longitude, lat: pos.coords.latitude, accuracy: pos.coords.accuracy };
        setFix(f);
        const verdict = judgeFix(kept.current, f);
        if (verdict === 'kept') {
          const next = [...kept.current, /** @type {LonLat} */ ([f.lon, f.lat])];
          kept.current = next;
          setVertices(next);
        } else if (verdict === 'poor_accuracy') {
          setDropped((n) => n + 1);
        }
      },
      (err) => setGpsError(err.code === err.PERMISSION_DENIED ? t('gps-denied') : t('gps-unavailable')),
      { enableHighAccuracy: true, maximumAge: 0, timeout: 60_000 },
    );
  }
  function stopWalk() {
    if (watchId.current !== null) navigator.geolocation.clearWatch(watchId.current);
    watchId.current = null;
    setWatching(false);
  }
  function closeRing() {
    stopWalk();
    if (vertices.length >= 3) setClosed(true);
  }

  const area = ringAreaHa(vertices);
  const crossing = vertices.length >= 4 ? selfIntersectionVertex(vertices) : -1;
  const serverVertex = fixing?.error ? vertexOfField(fixing.error.field) : null;
  const badVertex = crossing >= 0 ? crossing : serverVertex;
  const neighbours = s.farmers.filter((f) => f.village_code === farmer.village_code).flatMap((f) => f.farms.map((farm) => ({ id: farm.id, rings: exteriorRings(farm.boundary), style: /** @type {const} */ ('other') })));

  /** @param {Event} e */
  async function save(e) {
    e.preventDefault();
    if (!farmer) return;
    const declaredHa = Number(declared.replace(',', '.'));
    if (vertices.length < 3 || !closed) {
      setFormError(t('farm-need-ring'));
      return;
    }
    if (!survey.trim() || !(declaredHa > 0)) {
      setFormError(t('farm-need-survey-area'));
      return;
    }
    const body = {
      id: fixBody?.id ?? newId(),
      survey_number: survey.trim(),
      declared_area_ha: declaredHa,
      boundary: polygonOf(vertices),
      crops: crop.trim() ? [{ crop: crop.trim().toLowerCase(), season, sowing_date: new Date().toISOString().slice(0, 10) }] : [],
    };
    if (fixing) {
      await amend(fixing.id, body);
    } else {
      const creator = creatorOf(farmer.id);
      await write({
        method: 'POST',
        path: `/api/v1/farmers/${farmer.id}/farms`,
        body,
        kind: 'create-farm',
        label: `${farmer.name} · ${body.survey_number}`,
        dependsOn: creator ? [creator.id] : [],
      });
    }
    go(`#/farmer/${farmer.id}`);
  }

  return (
    <form onSubmit={save} data-testid="farm-form">
      <ScreenTitle back={`#/farmer/${farmer.id}`} title={t('farm-add')} />
      <div class="tabs" role="tablist">
        <button type="button" role="tab" aria-selected={mode === 'walk'} class={mode === 'walk' ? 'on' : ''} onClick={() => setMode('walk')}>
          {t('capture-walk')}
        </button>
        <button
          type="button"
          role="tab"
          aria-selected={mode === 'tap'}
          class={mode === 'tap' ? 'on' : ''}
          onClick={() => {
            stopWalk();
            setMode('tap');
          }}
        >
          {t('capture-tap')}
        </button>
      </div>
      <FarmMap
        height={280}
        label={t('map-label')}
        zoomInLabel={t('map-zoom-in')}
        zoomOutLabel={t('map-zoom-out')}
        farms={neighbours}
        draft={vertices}
        closed={closed}
        badVertex={badVertex}
        me={fix}
        focus={vertices.length ? [vertices] : neighbours.flatMap((n) => n.rings)}
        onTapPoint={
          mode === 'tap'
            ? (pt) => {
                setClosed(false);
                setVertices([...vertices, pt]);
              }
            : undefined
        }
      />
      <p class="capture-stats" data-testid="capture-stats" data-points={vertices.length} data-area={area.toFixed(4)}>
        {t('capture-points', { count: vertices.length })} · {t('area-ha', { area: num(area, { maximumFractionDigits: 3 }) })}
        {fix ? (
          <>
            {' · '}
            {t('gps-accuracy', { meters: num(Math.round(fix.accuracy)) })}
          </>
        ) : null}
        {dropped ? (
          <>
            {' · '}
            <span data-testid="dropped">{t('gps-dropped', { count: dropped, max: num(WALK_ACCURACY_M_MAX) })}</span>
          </>
        ) : null}
      </p>
      {gpsError ? <p class="error">{gpsError}</p> : null}
      {crossing >= 0 ? <p class="error">{t('capture-crossing')}</p> : null}
      {fixing?.error ? (
        <p class="error" role="alert" data-testid="server-error">
          {fixing.error.message}
        </p>
      ) : null}
      <div class="buttons">
        {mode === 'walk' ? (
          watching ? (
            <button type="button" onClick={stopWalk}>
              {t('capture-pause')}
            </button>
          ) : (
            <button type="button" class="primary" onClick={startWalk} data-testid="walk-start">
              {t('capture-start-walk')}
            </button>
          )
        ) : null}
        <button type="button" onClick={() => setVertices(vertices.slice(0, -1))} disabled={!vertices.length}>
          {t('capture-undo')}
        </button>
        <button type="button" onClick={closeRing} disabled={vertices.length < 3} data-testid="close-ring">
          {t('capture-close')}
        </button>
      </div>
      <Field label={t('farm-survey')} name="survey_number" value={survey} onInput={setSurvey} required />
      <Field label={t('farm-declared-label')} name="declared_area_ha" inputMode="decimal" value={declared} onInput={setDeclared} required />
      <Field label={t('farm-crop')} name="crop" value={crop} onInput={setCrop} hint={t('farm-crop-hint')} />
      <label class="field">
        <span class="field-label">{t('farm-season')}</span>
        <select name="season" value={season} onChange={(e) => setSeason(/** @type {HTMLSelectElement} */ (e.currentTarget).value)}>
          {['kharif', 'rabi', 'zaid'].map((x) => (
            <option key={x} value={x}>
              {t(`season-${x}`)}
            </option>
          ))}
        </select>
      </label>
      {formError ? (
        <p class="error" role="alert">
          {formError}
        </p>
      ) : null}
      <button class="primary" type="submit" data-testid="save-farm">
        {t('save')}
      </button>
      <Data class="sr">{farmer.name}</Data>
    </form>
  );
}
