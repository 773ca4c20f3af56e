import { html } from 'htm/preact';
import { render, VNode } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { pollFleet, PollState } from './fleet-poll';
import { Certs, Changes, Invalid, Replicas, replicaState, Routes } from './views';
import './style.css';

function Summary({ state }: { state: PollState }): VNode {
  const fleet = state.fleet;
  if (!fleet) return html`<span class="muted">waiting for the first answer</span>`;
  const troubled = fleet.replicas.filter((r) => replicaState(r).key !== 'serving').length;
  const tone = troubled === 0 ? 'ok' : 'bad';
  const text = troubled === 0 ? `all ${fleet.replicas.length} replicas agree` : `${troubled} of ${fleet.replicas.length} replicas need a look`;
  return html`<span class="badge ${tone}" id="summary">${text}</span> <span class="muted">updated ${state.at ? state.at.toLocaleTimeString() : '-'}</span>`;
}

function Dashboard(): VNode {
  const [state, setState] = useState<PollState>({});
  useEffect(() => pollFleet(setState), []);
  const fleet = state.fleet;
  return html`<header>
      <h1>haproxy-sidecar fleet</h1>
      <${Summary} state=${state} />
    </header>
    ${state.error ? html`<div class="banner">${state.error}</div>` : ''}
    ${fleet?.peers.error ? html`<div class="banner">replica lookup of ${fleet.peers.hostname} failed: ${fleet.peers.error}</div>` : ''}
    ${
      fleet
        ? html`<h2>Replicas</h2>
            <${Replicas} replicas=${fleet.replicas} />
            <h2>Routes</h2>
            <${Routes} fleet=${fleet} />
            <h2>Invalid routes</h2>
            <${Invalid} invalid=${fleet.invalid} />
            <h2>Certificates</h2>
            <${Certs} certs=${fleet.certs} />
            <h2>Recent changes</h2>
            <${Changes} changes=${fleet.changes} />`
        : ''
    }`;
}

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(html`<${Dashboard} />`, root);
}
