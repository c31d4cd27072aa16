// Load a plugin's module.js the way Plutono 7.5's frontend does, in Node.
//
// Plutono loads plugins with SystemJS 0.20 and registers its shared packages under fixed names
// (react, @credativ/plutono-data, -ui, -runtime). Plutono's packages are forks of Grafana's
// 7.5.x packages, so the real @grafana/* 7.5.17 packages stand in for them here, under the
// Plutono names. The DOM is jsdom's; its window globals are copied onto Node's global object,
// because @grafana/ui reads browser globals (devicePixelRatio, ...) when it loads.
'use strict';

// SystemJS first: it picks its fetch implementation (Node's fs) when it loads, and must not see
// the jsdom window.
const SystemJS = require('systemjs');
const { JSDOM, VirtualConsole } = require('jsdom');

const problems = [];
const navigations = [];
const virtualConsole = new VirtualConsole();
virtualConsole.on('jsdomError', (error) => {
  const message = String(error.message || error);
  // jsdom cannot navigate; a page reload (what app pages do after saving) is recorded instead.
  (message.startsWith('Not implemented: navigation') ? navigations : problems).push(message);
});
const dom = new JSDOM('<!doctype html><html><body><div id="root"></div></body></html>', {
  url: 'http://localhost:3000/',
  pretendToBeVisual: true,
  virtualConsole,
});
global.window = dom.window;
for (const name of Object.getOwnPropertyNames(dom.window)) {
  if (!(name in global)) {
    try {
      global[name] = dom.window[name];
    } catch (error) {
      // a few accessors cannot be copied; @grafana/ui does not need them
    }
  }
}

const React = require('react');
const ReactDOM = require('react-dom');
const grafanaData = require('@grafana/data');
const grafanaUi = require('@grafana/ui');
const grafanaRuntime = require('@grafana/runtime');

const SHARED = {
  react: React,
  'react-dom': ReactDOM,
  '@credativ/plutono-data': grafanaData,
  '@credativ/plutono-ui': grafanaUi,
  '@credativ/plutono-runtime': grafanaRuntime,
};
for (const [name, module] of Object.entries(SHARED)) {
  SystemJS.registry.set(name, SystemJS.newModule(module));
}
// As Plutono's plugin loader: modules are ES-module-like objects whose `plugin` export is used.
SystemJS.config({ meta: { '*': { esModule: true } } });

async function loadPlugin(path) {
  const exports = await SystemJS.import(path);
  if (!exports.plugin) {
    throw new Error(`${path} exports no plugin`);
  }
  return exports;
}

module.exports = {
  React,
  ReactDOM,
  SystemJS,
  dom,
  grafanaData,
  grafanaRuntime,
  grafanaUi,
  loadPlugin,
  navigations,
  problems,
};
