import { html } from 'htm/preact';
import type { VNode } from 'preact';
import { useState } from 'preact/hooks';
import { ROUTES_PER_PAGE } from './limits';
import type { CertRow, ChangeEntry, DestinationRow, FleetInvalid, FleetReport, FleetRoute, ReplicaSummary, RouteStats } from '../src/fleet/report-types';

function time(iso: string | undefined): string {
  if (!iso) return '-';
  return new Date(iso).toLocaleTimeString();
}

/** What a replica's row says about it, worst first: the class of the row and its badge. */
export function replicaState(r: ReplicaSummary): { key: string; label: string; tone: string } {
  if (!r.answered) return { key: 'no-answer', label: 'no answer', tone: 'bad' };
  if (!r.serving) return { key: 'not-serving', label: 'not serving', tone: 'bad' };
  if (r.lagging) return { key: 'lagging', label: 'lagging', tone: 'warn' };
  if (r.differs) return { key: 'differs', label: 'config differs', tone: 'warn' };
  return { key: 'serving', label: 'serving', tone: 'ok' };
}

export function Replicas({ replicas }: { replicas: readonly ReplicaSummary[] }): VNode {
  return html`<table id="replicas">
    <thead>
      <tr>
        <th>replica</th>
        <th>state</th>
        <th>applied index</th>
        <th>config hash</th>
        <th>HAProxy</th>
        <th>restarts</th>
        <th>last reload</th>
        <th>routes</th>
        <th>invalid</th>
      </tr>
    </thead>
    <tbody>
      ${replicas.map((r) => {
        const state = replicaState(r);
        return html`<tr key=${r.address} class=${state.key} data-address=${r.address} data-state=${state.key}>
          <td><code>${r.address}</code>${r.self ? html` <span class="muted">(this one)</span>` : ''}</td>
          <td><span class="badge ${state.tone}">${state.label}</span>${r.error ? html` <span class="muted">${r.error}</span>` : ''}</td>
          <td class="num">${r.index ?? '-'}</td>
          <td><code>${r.configHash ?? '-'}</code></td>
          <td>${r.haproxy ? (r.haproxy.up ? 'up' : html`<span class="cell-bad" title=${r.haproxy.reason ?? ''}>down</span>`) : '-'}</td>
          <td class="num restarts">${r.haproxy?.restarts ?? '-'}</td>
          <td>${r.lastReload ? `${time(r.lastReload.at)} ${r.lastReload.outcome}` : '-'}</td>
          <td class="num">${r.routes ?? '-'}</td>
          <td class="num">${r.invalid ?? '-'}</td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}

function destination(d: DestinationRow): string {
  const hosts = d.hosts.length > 0 ? d.hosts.join(',') : '*';
  const paths = d.paths.length > 0 ? d.paths.join(',') : '';
  const src = d.srcPort === undefined ? '' : `:${d.srcPort} `;
  return `${d.mode} ${src}${hosts}${paths} -> ${d.port}`;
}

function cell(stats: RouteStats | null): VNode {
  if (!stats) return html`<td class="cell-missing">not served</td>`;
  if (stats.status === '') return html`<td class="cell-bad">no stats</td>`;
  const up = stats.status === 'UP';
  return html`<td class=${up ? 'cell-ok' : 'cell-bad'}>${stats.status || '?'} ${stats.serversUp}/${stats.servers}</td>`;
}

function matches(route: FleetRoute, filter: string): boolean {
  if (filter === '') return true;
  return route.serviceName.includes(filter) || route.destinations.some((d) => destination(d).includes(filter));
}

function Pager({ from, to, total, onPage }: { from: number; to: number; total: number; onPage: (delta: number) => void }): VNode {
  return html`<span class="pager">
    <button type="button" disabled=${from === 0} onClick=${() => onPage(-1)}>previous</button>
    <span class="muted" id="routes-shown"> ${total === 0 ? 0 : from + 1}-${to} of ${total} </span>
    <button type="button" disabled=${to >= total} onClick=${() => onPage(1)}>next</button>
  </span>`;
}

export function Routes({ fleet }: { fleet: FleetReport }): VNode {
  const [filter, setFilter] = useState('');
  const [page, setPage] = useState(0);
  const matching = filter === '' ? fleet.routes : fleet.routes.filter((route) => matches(route, filter));
  const pages = Math.max(1, Math.ceil(matching.length / ROUTES_PER_PAGE));
  const current = Math.min(page, pages - 1);
  const from = current * ROUTES_PER_PAGE;
  const shown = matching.slice(from, from + ROUTES_PER_PAGE);
  const onFilter = (e: Event) => {
    setFilter((e.target as HTMLInputElement).value);
    setPage(0);
  };
  return html`<div>
    <input type="search" placeholder="filter by service, host or path" value=${filter} onInput=${onFilter} />
    <${Pager} from=${from} to=${from + shown.length} total=${matching.length} onPage=${(delta: number) => setPage(current + delta)} />
    <table id="routes">
      <thead>
        <tr>
          <th>service</th>
          <th>destinations (mode host path -> port)</th>
          ${fleet.replicas.map((r) => html`<th key=${r.address}>${r.address}</th>`)}
          <th>requests</th>
          <th>errors</th>
        </tr>
      </thead>
      <tbody>
        ${shown.map(
          (route) =>
            html`<tr key=${route.serviceName} data-service=${route.serviceName}>
              <td>${route.serviceName}</td>
              <td>${route.destinations.map((d) => html`<div><code>${destination(d)}</code></div>`)}</td>
              ${route.perReplica.map(cell)}
              <td class="num requests">${route.requests}</td>
              <td class="num errors">${route.errors}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

export function Invalid({ invalid }: { invalid: readonly FleetInvalid[] }): VNode {
  if (invalid.length === 0) return html`<p class="muted">none</p>`;
  return html`<table id="invalid">
    <thead>
      <tr>
        <th>service</th>
        <th>reason</th>
        <th>left out by</th>
      </tr>
    </thead>
    <tbody>
      ${invalid.map(
        (i) =>
          html`<tr key=${i.serviceName}>
            <td>${i.serviceName}</td>
            <td>${i.reason}</td>
            <td>${i.replicas.join(', ')}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export function Certs({ certs }: { certs: readonly CertRow[] }): VNode {
  if (certs.length === 0) return html`<p class="muted">none</p>`;
  return html`<table id="certs">
    <thead>
      <tr>
        <th>certificate</th>
        <th>names</th>
        <th>expires</th>
        <th>days left</th>
      </tr>
    </thead>
    <tbody>
      ${certs.map(
        (c) =>
          html`<tr key=${c.name}>
            <td>${c.name}</td>
            <td>${c.sans.join(', ')}</td>
            <td>${c.notAfter}</td>
            <td class=${c.daysLeft < 14 ? 'num cell-bad' : 'num'}>${c.daysLeft}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export function Changes({ changes }: { changes: readonly ChangeEntry[] }): VNode {
  if (changes.length === 0) return html`<p class="muted">none since the replicas started</p>`;
  return html`<table id="changes">
    <thead>
      <tr>
        <th>time</th>
        <th>index</th>
        <th>service</th>
        <th>what</th>
        <th>source</th>
      </tr>
    </thead>
    <tbody>
      ${changes.map(
        (c) =>
          html`<tr key=${`${c.index}/${c.serviceName}/${c.what}`}>
            <td>${time(c.at)}</td>
            <td class="num">${c.index}</td>
            <td>${c.serviceName}</td>
            <td>${c.what}${c.detail ? `: ${c.detail}` : ''}</td>
            <td>${c.source}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}
