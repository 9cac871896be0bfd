// A sensor's readings over a day, a week or a month (buckets from the box's readings route),
// drawn with uPlot (~20 KB gzipped with its CSS).

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/**
 * @param {{ buckets: { start_ms: number, avg: number, min: number, max: number }[], unit: string,
 *   lang: string, labels: { time: string, avg: string, min: string, max: string } }} props
 */
export function ReadingsChart(props) {
  const host = useRef(/** @type {HTMLDivElement | null} */ (null));
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const xs = props.buckets.map((b) => b.start_ms / 1000);
    // Dates in the UI language (uPlot's own formatter is English only).
    const locale = props.lang === 'en' ? 'en-IN' : props.lang;
    const day = new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short' });
    const full = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', hourCycle: 'h23' });
    const num = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });
    /** @type {uPlot.AlignedData} */
    const data = [xs, props.buckets.map((b) => b.avg), props.buckets.map((b) => b.min), props.buckets.map((b) => b.max)];
    const plot = new uPlot(
      {
        width: el.clientWidth || 340,
        height: 200,
        legend: { show: true },
        scales: { x: { time: true } },
        axes: [
          { values: (_u, splits) => splits.map((v) => day.format(new Date(v * 1000))) },
          { label: props.unit, values: (_u, splits) => splits.map((v) => num.format(v)) },
        ],
        series: [
          { label: props.labels.time, value: (_u, v) => (v == null ? '' : full.format(new Date(v * 1000))) },
          { label: props.labels.avg, stroke: '#2e7d32', width: 2, value: (_u, v) => (v == null ? '' : num.format(v)) },
          { label: props.labels.min, stroke: '#90caf9', width: 1, value: (_u, v) => (v == null ? '' : num.format(v)) },
          { label: props.labels.max, stroke: '#ef9a9a', width: 1, value: (_u, v) => (v == null ? '' : num.format(v)) },
        ],
      },
      data,
      el,
    );
    return () => plot.destroy();
  }, [props.buckets, props.unit, props.lang, props.labels.avg]);
  return <div class="chart" ref={host} />;
}
