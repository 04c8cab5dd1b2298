// The page-side half of the SDK harness: loads the REAL Amplitude Browser
// SDK and the REAL posthog-js on every page of the test site, both pointed at
// the local collector that record.mjs runs, and wires the app's actions
// (login, join a company, upgrade a plan) to both SDKs the way an app would.
// Bundled by esbuild into .build/bundle.js (Amplitude's npm package has no
// plain browser build).
import * as amplitude from '@amplitude/analytics-browser';
import posthog from 'posthog-js';

const H = window.HARNESS; // {collector: "http://127.0.0.1:PORT"}, served as /harness-config.js

amplitude.init('amp2ph-harness-amplitude-key', undefined, {
  serverUrl: H.collector + '/2/httpapi',
  // Send soon (default 1000 ms, 30 events): the recorder waits between actions.
  flushIntervalMillis: 200,
  // Nothing but the collector on the network: no remote config, no diagnostics.
  fetchRemoteConfig: false,
  enableDiagnostics: false,
  autocapture: {
    attribution: true,
    pageViews: true,
    sessions: true,
    formInteractions: true,
    fileDownloads: true,
    elementInteractions: true,
  },
});

posthog.init('phc_amp2ph_harness_token', {
  api_host: H.collector,
  autocapture: true,
  capture_pageview: true,
  capture_pageleave: true,
  // person_profiles left at its default ('identified_only'), and
  // request_batching at its default (true): posthog-js queues events and
  // sends the queue every few seconds and, by sendBeacon, on pagehide. With
  // request_batching: false each event goes at once by XHR, and the click
  // on a link that navigates is lost when the navigation aborts that request.
});

window.amplitude = amplitude;
window.posthog = posthog;

const USER_ID = 'user-42';

function login(email, plan) {
  posthog.identify(USER_ID, { email, plan }, { signup_method: 'email' });
  amplitude.setUserId(USER_ID);
  amplitude.identify(
    new amplitude.Identify()
      .set('email', email)
      .set('plan', plan)
      .setOnce('signup_method', 'email')
      .add('login_count', 1),
  );
}

function joinCompany() {
  posthog.group('company', 'acme-inc', { name: 'Acme Inc', employees: 42 });
  amplitude.setGroup('company', 'acme-inc');
  amplitude.groupIdentify('company', 'acme-inc',
    new amplitude.Identify().set('name', 'Acme Inc').set('employees', 42));
}

function upgradePlan() {
  const props = { plan: 'pro', previous_plan: 'free', price: 49, currency: 'USD' };
  posthog.capture('Plan Upgraded', props);
  amplitude.track('Plan Upgraded', props);
}

function wire() {
  const form = document.getElementById('signup-form');
  if (form) {
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      login(form.elements.email.value, form.elements.plan.value);
      document.getElementById('continue').hidden = false;
    });
  }
  const join = document.getElementById('join-company');
  if (join) join.addEventListener('click', joinCompany);
  const up = document.getElementById('upgrade');
  if (up) up.addEventListener('click', upgradePlan);
}
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', wire);
else wire();
