// Drive a generated module.js like a user in Plutono's UI; report what the plugin emitted.
//
//   node drive.js SCENARIO.json   (prints one JSON document on stdout)
//
// SCENARIO = {"module": "/path/module.js", "steps": [STEP, ...]}; every step yields one result:
//   {"do": "config", "options": {...}}       render the config editor (a datasource's settings)
//   {"do": "query", "query": {...}, "resources": {path: reply}, "annotation": false}
//        render the query editor (the annotation editor's when `annotation`); getResource(path)
//        answers `reply`
//   {"do": "wait", "ms": 20}                  let promises settle (resources loaded)
//   {"do": "annotation", "target": {...}}     the instance's annotations.prepareQuery({target})
//   {"do": "app", "meta": {...}}             render an app's configuration page
//   {"do": "input", "label": L, "text": T}   type T into the input labelled L, then leave it
//   {"do": "toggle", "label": L}             click the switch labelled L
//   {"do": "select", "label": L, "option": O}  open the select labelled L, pick option O
//   {"do": "reset", "label": L}              click "Reset" of the secret field labelled L
//   {"do": "click", "text": T}               click the button showing T
//   {"do": "send", "targets": [...], "variables": {...}, "range": [fromMs, toMs]}
//        run the datasource's query(); the /api/ds/query request is captured, not sent
//   {"do": "health", "reply": {...}}         "Save & Test" with the host answering `reply`
//   {"do": "instantiate", "jsonData": {...}}  build the datasource as datasource_srv.ts does
//   {"do": "contains", "target": {...}}       the Alert tab's targetContainsTemplate(target)
// Editors are re-rendered with what they emit, as Plutono does (they are controlled).
'use strict';

const fs = require('fs');
const harness = require('./harness');
const { React, ReactDOM, grafanaData, grafanaRuntime } = harness;
const { of, throwError } = require('rxjs');

const scenario = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const root = document.getElementById('root');

let events = [];
let requests = [];
let current = null; // {kind, props}

function render() {
  ReactDOM.render(React.createElement(current.component, current.props), root);
}

function snapshot() {
  const labels = Array.from(root.querySelectorAll('label')).map((label) => label.textContent.trim());
  const inputs = Array.from(root.querySelectorAll('input, textarea')).map((input) => ({
    label: input.getAttribute('aria-label') || besideLabel(input) || input.id,
    type: input.tagName === 'TEXTAREA' ? 'textarea' : input.type,
    value: input.type === 'checkbox' ? input.checked : input.value,
    placeholder: input.getAttribute('placeholder') || '',
    disabled: input.disabled,
  }));
  const errors = Array.from(root.querySelectorAll('[role="alert"]')).map((node) => node.textContent.trim());
  const selected = Array.from(root.querySelectorAll('[class*="singleValue"], [class*="SingleValue"]')).map(
    (node) => node.textContent
  );
  const buttons = Array.from(root.querySelectorAll('button')).map((button) => button.textContent.trim());
  return { labels, inputs, selected, buttons, errors, text: root.textContent };
}

// The input a user finds by its label: aria-label, <label for>, or the label beside it.
function byLabel(label) {
  const inputs = Array.from(root.querySelectorAll('input, textarea'));
  let found = inputs.filter((input) => input.getAttribute('aria-label') === label || (input.id && labelFor(input.id) === label));
  if (!found.length) {
    const beside = labelled(label).map((node) => node.closest('.gf-form'));
    found = beside.filter(Boolean).map((row) => row.querySelector('input')).filter(Boolean);
  }
  if (!found.length) {
    throw new Error(`no input labelled ${JSON.stringify(label)} in: ${JSON.stringify(snapshot())}`);
  }
  return found[0];
}

function besideLabel(input) {
  const row = input.closest('.gf-form');
  const label = row && row.querySelector('label');
  return label ? label.textContent.trim() : '';
}

function labelled(text) {
  return Array.from(root.querySelectorAll('label')).filter((node) => node.textContent.trim() === text);
}

function labelFor(id) {
  const label = root.querySelector(`label[for="${id}"]`);
  return label ? label.textContent.trim() : null;
}

function setValue(input, text) {
  const prototype = input.tagName === 'TEXTAREA' ? window.HTMLTextAreaElement : window.HTMLInputElement;
  const setter = Object.getOwnPropertyDescriptor(prototype.prototype, 'value').set;
  setter.call(input, text);
  input.dispatchEvent(new window.Event('input', { bubbles: true }));
}

function keyDown(node, key, keyCode) {
  node.dispatchEvent(new window.KeyboardEvent('keydown', { key, keyCode, which: keyCode, bubbles: true }));
}

function editor(kind, component, props) {
  current = { kind, component, props };
  render();
  return snapshot();
}

function plutonoProps(kind) {
  if (kind === 'config') {
    return (options) => {
      events.push({ onOptionsChange: options });
      current.props = Object.assign({}, current.props, { options });
      render();
    };
  }
  return (query) => {
    events.push({ onChange: query });
    current.props = Object.assign({}, current.props, { query });
    render();
  };
}

function backendSrv(reply, resources) {
  const record = (options) => {
    requests.push({ url: options.url, method: options.method, data: options.data });
  };
  return {
    fetch(options) {
      record(options);
      return of({ data: { results: {} }, status: 200, ok: true });
    },
    request(options) {
      record(options);
      // Plutono answers 503 for a non-OK health status (contract 2.4.5): the body is in err.data.
      return reply.status === 'OK' ? Promise.resolve(reply) : Promise.reject({ status: 503, data: reply });
    },
    post(url, data) {
      record({ url, method: 'POST', data });
      return Promise.resolve({});
    },
    get(url, params) {
      record({ url, method: 'GET', params });
      const path = url.replace(/^\/?api\/datasources\/\d+\/resources\//, '');
      if (Object.prototype.hasOwnProperty.call(resources || {}, path)) {
        return Promise.resolve(resources[path]);
      }
      return Promise.reject({ status: 404, data: { message: `no resource ${path}` } });
    },
  };
}

function templateSrv(variables) {
  const replace = (text, scopedVars) =>
    String(text).replace(/\$\{(\w+)\}|\$(\w+)/g, (match, braced, bare) => {
      const name = braced || bare;
      if (scopedVars && scopedVars[name]) {
        return String(scopedVars[name].value);
      }
      return Object.prototype.hasOwnProperty.call(variables, name) ? String(variables[name]) : match;
    });
  return { replace, getVariables: () => [], updateTimeRange: () => {} };
}

// AngularJS 1.8.2 `$injector.instantiate` as Plutono bootstraps it (no strictDi, spec 8.2): a
// static $inject, else no arguments when the function's length is 0, else the names parsed from
// the first parenthesised list of the source, each taken from the locals or a service.
function angularInstantiate(Type, locals) {
  let names = Type.$inject;
  if (!names) {
    const source = Function.prototype.toString.call(Type);
    const list = Type.length === 0 ? null : source.match(/^[^(]*\(\s*([^)]*)\)/m);
    names = list ? list[1].split(',').map((name) => name.trim()).filter(Boolean) : [];
  }
  const args = names.map((name) => {
    if (!Object.prototype.hasOwnProperty.call(locals, name)) {
      throw new Error(`Unknown provider: ${name}Provider <- ${name}`);
    }
    return locals[name];
  });
  return new Type(...args);
}

// datasource_srv.ts `loadDatasource` (spec 8.2): the constructor's arity picks the path; then
// `components` and `meta` are set on the instance, after the constructor returned.
function dataSource(module, jsonData) {
  const meta = { id: 'test-datasource', name: 'test', type: 'datasource', info: {}, module: 'plugins/test/module' };
  const instanceSettings = { id: 7, uid: 'ds-uid', type: meta.id, name: 'dev', meta, jsonData: jsonData || {} };
  const DataSourceClass = module.plugin.DataSourceClass;
  let instance;
  if (DataSourceClass.length === 1) {
    instance = new DataSourceClass(instanceSettings);
  } else {
    harness.problems.push(`DataSource.length is ${DataSourceClass.length}: Plutono builds it with Angular's injector`);
    instance = angularInstantiate(DataSourceClass, { instanceSettings });
  }
  instance.components = module.plugin.components;
  instance.meta = meta;
  return instance;
}

async function run(step, module) {
  const plugin = module.plugin;
  switch (step.do) {
    case 'config':
      return editor('config', plugin.components.ConfigEditor, { options: step.options, onOptionsChange: plutonoProps('config') });
    case 'query': {
      // Props as QueryEditorRow (panel) passes them, or the annotation editor (spec 8.3, 8.4).
      grafanaRuntime.setBackendSrv(backendSrv({}, step.resources || {}));
      const onRunQuery = () => events.push({ onRunQuery: true });
      const instance = dataSource(module);
      if (step.annotation) {
        if (!instance.annotations) {
          throw new Error('the datasource has no annotations property: Plutono would look for annotations-query-ctrl');
        }
        const Editor = instance.annotations.QueryEditor || plugin.components.QueryEditor;
        const props = { query: step.query, onChange: plutonoProps('query'), onRunQuery, key: 'dev' };
        return editor('query', Editor, props);
      }
      const props = { query: step.query, onChange: plutonoProps('query'), onRunQuery, datasource: instance };
      return editor('query', plugin.components.QueryEditor, props);
    }
    case 'wait':
      await new Promise((resolve) => setTimeout(resolve, step.ms || 20));
      return snapshot();
    case 'annotation': {
      const instance = dataSource(module);
      return { annotations: Boolean(instance.annotations), prepared: instance.annotations && instance.annotations.prepareQuery({ target: step.target }) };
    }
    case 'app': {
      grafanaRuntime.setBackendSrv(backendSrv({}));
      plugin.meta = step.meta;
      return editor('app', plugin.configPages[0].body, { plugin, query: {} });
    }
    case 'input': {
      const input = byLabel(step.label);
      input.focus();
      setValue(input, step.text);
      input.dispatchEvent(new window.FocusEvent('focusout', { bubbles: true }));
      return snapshot();
    }
    case 'toggle':
      byLabel(step.label).click();
      return snapshot();
    case 'select': {
      const input = byLabel(step.label);
      input.focus();
      keyDown(input, 'ArrowDown', 40);
      const options = Array.from(document.querySelectorAll('[aria-label="Select option"]'));
      const option = options.filter((node) => node.textContent.trim().startsWith(step.option))[0];
      if (!option) {
        throw new Error(`no option ${step.option} in ${options.map((node) => node.textContent)}`);
      }
      option.click();
      return snapshot();
    }
    case 'reset': {
      let row = byLabel(step.label);
      const isReset = (b) => b.textContent.trim() === 'Reset';
      while (row && row !== root && !Array.from(row.querySelectorAll('button')).some(isReset)) {
        row = row.parentElement;
      }
      const button = row && row !== root && Array.from(row.querySelectorAll('button')).filter(isReset)[0];
      if (!button) {
        throw new Error(`no secret field ${step.label} with a Reset button in ${JSON.stringify(snapshot())}`);
      }
      button.click();
      return snapshot();
    }
    case 'click': {
      const button = Array.from(root.querySelectorAll('button')).filter((b) => b.textContent.trim() === step.text)[0];
      button.click();
      await new Promise((resolve) => setTimeout(resolve, 10));
      return snapshot();
    }
    case 'send': {
      grafanaRuntime.setBackendSrv(backendSrv({}));
      grafanaRuntime.setTemplateSrv(templateSrv(step.variables || {}));
      const [from, to] = step.range || [1700000000000, 1700003600000];
      const request = {
        requestId: 'Q1',
        targets: step.targets,
        range: { from: grafanaData.dateTime(from), to: grafanaData.dateTime(to), raw: { from: 'now-1h', to: 'now' } },
        intervalMs: step.intervalMs || 1000,
        maxDataPoints: step.maxDataPoints || 500,
        scopedVars: step.scopedVars || {},
      };
      const response = await new Promise((resolve, reject) =>
        dataSource(module).query(request).subscribe({ next: resolve, error: reject })
      );
      return { sent: requests[requests.length - 1], errors: response.error || null };
    }
    case 'contains': {
      grafanaRuntime.setTemplateSrv(templateSrv({}));
      return { contains: dataSource(module).targetContainsTemplate(step.target) };
    }
    case 'instantiate': {
      const instance = dataSource(module, step.jsonData);
      return { arity: module.plugin.DataSourceClass.length, name: instance.name, id: instance.id, uid: instance.uid };
    }
    case 'health': {
      grafanaRuntime.setBackendSrv(backendSrv(step.reply));
      try {
        return { result: await dataSource(module).testDatasource(), request: requests[requests.length - 1] };
      } catch (error) {
        return { thrown: error.message, request: requests[requests.length - 1] };
      }
    }
    default:
      throw new Error(`unknown step ${JSON.stringify(step)}`);
  }
}

async function main() {
  const module = await harness.loadPlugin(scenario.module);
  const results = [];
  for (const step of scenario.steps) {
    events = [];
    requests = [];
    const result = await run(step, module);
    results.push({ step: step.do, events, requests, result });
  }
  ReactDOM.unmountComponentAtNode(root);
  const report = { results, problems: harness.problems, navigations: harness.navigations };
  harness.dom.window.close();
  // Timers left by UI components (tooltips, animations) would keep Node alive: we are done.
  process.stdout.write(JSON.stringify(report), () => process.exit(0));
}

main().catch((error) => {
  process.stderr.write(String((error && error.stack) || error) + '\n');
  process.exit(1);
});
