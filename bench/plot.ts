/**
 * A hand-written SVG line chart of latency (ms) against number of routes, both axes logarithmic
 * (the sizes are 10, 1,000 and 10,000; the latencies span three decades). No plotting package.
 */

export interface Series {
  readonly name: string;
  /** [routes, milliseconds], both positive. */
  readonly points: readonly (readonly [number, number])[];
}

const WIDTH = 760;
const HEIGHT = 460;
const MARGIN = { left: 70, right: 250, top: 40, bottom: 50 };
const COLOURS = ['#d62728', '#ff7f0e', '#1f77b4', '#2ca02c', '#9467bd', '#8c564b', '#17becf'];

interface Scale {
  readonly x: (routes: number) => number;
  readonly y: (ms: number) => number;
  readonly decadesX: readonly number[];
  readonly decadesY: readonly number[];
}

/** Whole powers of ten from below the smallest value to above the largest. */
function decades(values: readonly number[]): number[] {
  const low = Math.floor(Math.log10(Math.min(...values)));
  const high = Math.max(low + 1, Math.ceil(Math.log10(Math.max(...values))));
  return Array.from({ length: high - low + 1 }, (_, i) => 10 ** (low + i));
}

function logScale(domain: readonly number[], from: number, to: number): (value: number) => number {
  const low = Math.log10(domain[0]);
  const span = Math.log10(domain[domain.length - 1]) - low;
  return (value) => from + ((Math.log10(value) - low) / span) * (to - from);
}

function scaleFor(series: readonly Series[]): Scale {
  const points = series.flatMap((s) => s.points);
  const decadesX = decades(points.map((p) => p[0]));
  const decadesY = decades(points.map((p) => p[1]));
  return {
    x: logScale(decadesX, MARGIN.left, WIDTH - MARGIN.right),
    y: logScale(decadesY, HEIGHT - MARGIN.bottom, MARGIN.top),
    decadesX,
    decadesY,
  };
}

const label = (value: number): string => (value >= 1000 ? `${value / 1000}k` : String(value));
const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function axes(scale: Scale): string[] {
  const left = MARGIN.left;
  const right = WIDTH - MARGIN.right;
  const top = MARGIN.top;
  const bottom = HEIGHT - MARGIN.bottom;
  const parts = [`<rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}" fill="none" stroke="#444"/>`];
  for (const value of scale.decadesY) {
    const y = scale.y(value).toFixed(1);
    parts.push(`<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${label(value)}</text>`);
  }
  for (const value of scale.decadesX) {
    const x = scale.x(value).toFixed(1);
    parts.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="#ddd"/>`);
    parts.push(`<text x="${x}" y="${bottom + 18}" text-anchor="middle">${label(value)}</text>`);
  }
  parts.push(`<text x="${(left + right) / 2}" y="${HEIGHT - 12}" text-anchor="middle">routes (log scale)</text>`);
  parts.push(`<text x="18" y="${(top + bottom) / 2}" text-anchor="middle" transform="rotate(-90 18 ${(top + bottom) / 2})">milliseconds (log scale)</text>`);
  return parts;
}

function line(series: Series, colour: string, scale: Scale, index: number): string[] {
  const coords = series.points.map(([routes, ms]) => `${scale.x(routes).toFixed(1)},${scale.y(ms).toFixed(1)}`);
  const dots = coords.map((c) => {
    const [x, y] = c.split(',');
    return `<circle cx="${x}" cy="${y}" r="3.5" fill="${colour}"/>`;
  });
  const legendY = MARGIN.top + 10 + index * 22;
  const legendX = WIDTH - MARGIN.right + 16;
  return [
    `<polyline points="${coords.join(' ')}" fill="none" stroke="${colour}" stroke-width="2"/>`,
    ...dots,
    `<line x1="${legendX}" y1="${legendY}" x2="${legendX + 22}" y2="${legendY}" stroke="${colour}" stroke-width="2"/>`,
    `<text x="${legendX + 28}" y="${legendY}" dominant-baseline="middle">${escape(series.name)}</text>`,
  ];
}

export function plotLatency(all: readonly Series[]): string {
  const series = all.filter((s) => s.points.length > 0);
  const body =
    series.length === 0
      ? [`<text x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle">no latency results in this run</text>`]
      : (() => {
          const scale = scaleFor(series);
          return [...axes(scale), ...series.flatMap((s, i) => line(s, COLOURS[i % COLOURS.length], scale, i))];
        })();
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${MARGIN.left}" y="22" font-size="15" font-weight="bold">haproxy-sidecar: time to live against number of routes</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
