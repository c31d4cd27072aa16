// The services of Plutono 7.5.49's own frontend that load and drive a datasource plugin, rebuilt
// from ../shared/spec/plutono-contract.md section 8 (spec 8.x below). Everything a plugin
// touches is real: SystemJS 0.20.19 (the instance inside @grafana/runtime), React 17.0.1, the
// 7.5.17 @grafana packages under the @credativ/plutono-* names, AngularJS 1.8.2's injector.
// What is simulated here is Plutono's glue: plugin_loader.ts, datasource_srv.ts, backend_srv.ts
// and the wrappers that mount the editors (settings page, panel editor, Explore, annotations).
// editors.js mounts the editors with these services; the tests drive both through
// window.harness (tests/interop/README.md).
'use strict';

(function () {
  var shared = window.PlutonoShared;
  var React = shared.react;
  var ReactDOM = shared['react-dom'];
  var data = shared['@credativ/plutono-data'];
  var ui = shared['@credativ/plutono-ui'];
  var runtime = shared['@credativ/plutono-runtime'];
  var rxjs = shared.rxjs;
  var operators = shared['rxjs/operators'];
  var angular = shared.angular;
  var h = React.createElement;

  var harness = {
    changes: [], // every onChange/onOptionsChange call: {view, value}
    injector: [], // every instantiation through the Angular injector path (spec 8.2)
    instantiated: [], // {name, path: 'new' | 'injector'}
    requests: [], // {method, url, body} of every backendSrv request
    toasts: [], // {severity, title, text}
    runs: [], // {view, targets} of every query request sent to ds.query
  };
  window.harness = harness;

  // ---- Global look: what Plutono's global stylesheet sets on <body> (font, size, colours).
  var theme = ui.getTheme ? ui.getTheme('dark') : data.GrafanaThemeType;
  if (theme && theme.typography) {
    document.body.style.fontFamily = theme.typography.fontFamily.sansSerif;
    document.body.style.fontSize = theme.typography.size.base;
    document.body.style.lineHeight = String(theme.typography.lineHeight.md);
    document.body.style.color = theme.colors.text;
    document.body.style.background = theme.colors.bodyBg;
  }

  // ---- plugin_loader.ts (spec 8.1): the SystemJS instance of @credativ/plutono-runtime.
  var SystemJS = runtime.SystemJS;
  var cacheStamp = Date.now();
  SystemJS.registry.set(
    'plugin-loader',
    SystemJS.newModule({
      locate: function (load) {
        return load.address + '?_cache=' + cacheStamp;
      },
    })
  );
  SystemJS.config({
    baseURL: 'public',
    defaultExtension: 'js',
    packages: { plugins: { defaultExtension: 'js' } },
    map: { text: 'vendor/plugin-text/text.js', css: 'vendor/plugin-css/css.js' },
    meta: { '/*': { esModule: true, authorization: true, loader: 'plugin-loader' } },
  });

  function exposeToPlugin(name, component) {
    SystemJS.registerDynamic(name, [], true, function (require, exports, module) {
      module.exports = component;
    });
  }

  // @credativ/plutono-ui also carries the plugin classes of -data (the 6.4 -> 6.5 shim).
  var uiForPlugins = Object.assign({}, ui, {
    PanelPlugin: data.PanelPlugin,
    DataSourcePlugin: data.DataSourcePlugin,
    AppPlugin: data.AppPlugin,
    DataSourceApi: data.DataSourceApi,
  });
  Object.keys(shared).forEach(function (name) {
    exposeToPlugin(name, name === '@credativ/plutono-ui' ? uiForPlugins : shared[name]);
  });
  exposeToPlugin('@grafana/slate-react', shared['slate-react']);
  exposeToPlugin('app/core/config', runtime.config);
  exposeToPlugin('app/core/services/backend_srv', { BackendSrv: function () {}, getBackendSrv: runtime.getBackendSrv });
  exposeToPlugin('app/plugins/sdk', { loadPluginCss: runtime.loadPluginCss });
  [
    'jquery.flot',
    'jquery.flot.pie',
    'jquery.flot.time',
    'jquery.flot.fillbelow',
    'jquery.flot.crosshair',
    'jquery.flot.stack',
    'jquery.flot.selection',
    'jquery.flot.stackpercent',
    'jquery.flot.events',
    'jquery.flot.gauge',
  ].forEach(function (name) {
    exposeToPlugin(name, { fakeDep: 1 });
  });

  // ---- Toasts (appEvents alertSuccess/alertWarning/alertError), shown and recorded.
  function toast(severity, title, text) {
    harness.toasts.push({ severity: severity, title: title, text: text || '' });
    var node = document.createElement('div');
    node.className = 'toast toast-' + severity;
    node.textContent = title + (text ? ': ' + text : '');
    document.getElementById('toasts').appendChild(node);
  }

  // ---- backend_srv.ts (spec 8.5): relative URLs, X-Plutono-Org-Id, toasts, requestId cancel.
  var inFlight = {};
  var noBackendCache = false;

  function queryString(params) {
    if (!params) {
      return '';
    }
    var parts = Object.keys(params).map(function (key) {
      return encodeURIComponent(key) + '=' + encodeURIComponent(params[key]);
    });
    return parts.length ? '?' + parts.join('&') : '';
  }

  function fetchObservable(options) {
    return new rxjs.Observable(function (subscriber) {
      var method = (options.method || 'GET').toUpperCase();
      var url = options.url.replace(/^\//, '') + queryString(options.params);
      var headers = { 'X-Plutono-Org-Id': '1' };
      if (noBackendCache) {
        headers['X-Plutono-NoCache'] = 'true';
      }
      var body;
      if (options.data !== undefined && method !== 'GET') {
        headers['Content-Type'] = 'application/json';
        body = JSON.stringify(options.data);
      }
      harness.requests.push({ method: method, url: url, body: options.data === undefined ? null : options.data });
      var controller = new AbortController();
      if (options.requestId) {
        if (inFlight[options.requestId]) {
          inFlight[options.requestId].abort();
        }
        inFlight[options.requestId] = controller;
      }
      var isDataQuery = /^api\/(ds|tsdb)\/query/.test(url);
      fetch(url, { method: method, headers: headers, body: body, signal: controller.signal })
        .then(function (response) {
          return response.text().then(function (text) {
            var payload = text;
            try {
              payload = text ? JSON.parse(text) : {};
            } catch (error) {
              // not JSON: kept as text, as backend_srv does
            }
            var result = {
              data: payload,
              status: response.status,
              statusText: response.statusText,
              ok: response.ok,
              url: response.url,
              config: options,
            };
            if (response.ok) {
              if (method !== 'GET' && payload && payload.message && options.showSuccessAlert !== false) {
                toast('success', payload.message);
              }
              subscriber.next(result);
              subscriber.complete();
              return;
            }
            var error = { status: response.status, statusText: response.statusText, data: payload, config: options };
            if (!isDataQuery && options.showErrorAlert !== false) {
              setTimeout(function () {
                if (!error.isHandled) {
                  var message = (payload && (payload.message || payload.error)) || 'Error';
                  toast(response.status < 500 ? 'warning' : 'error', message);
                }
              }, 50);
            }
            subscriber.error(error);
          });
        })
        .catch(function (error) {
          if (error && error.name === 'AbortError') {
            subscriber.complete();
          } else {
            subscriber.error({ status: 0, statusText: String(error), data: { message: String(error) } });
          }
        });
      return function () {
        controller.abort();
      };
    });
  }

  var backendSrv = {
    fetch: fetchObservable,
    request: function (options) {
      return fetchObservable(options)
        .toPromise()
        .then(function (response) {
          return response.data;
        });
    },
    datasourceRequest: function (options) {
      return fetchObservable(options).toPromise();
    },
    get: function (url, params) {
      return backendSrv.request({ method: 'GET', url: url, params: params });
    },
    post: function (url, body) {
      return backendSrv.request({ method: 'POST', url: url, data: body });
    },
    put: function (url, body) {
      return backendSrv.request({ method: 'PUT', url: url, data: body });
    },
    delete: function (url) {
      return backendSrv.request({ method: 'DELETE', url: url });
    },
    withNoBackendCache: function (callback) {
      noBackendCache = true;
      return callback().finally(function () {
        noBackendCache = false;
      });
    },
  };
  runtime.setBackendSrv(backendSrv);

  // ---- template_srv.ts (spec 8.7), with no dashboard variables.
  runtime.setTemplateSrv({
    getVariables: function () {
      return [];
    },
    replace: function (target, scopedVars) {
      if (!target) {
        return target === undefined || target === null ? '' : target;
      }
      return String(target).replace(/\$(\w+)|\$\{(\w+)\}|\[\[(\w+)\]\]/g, function (match, a, b, c) {
        var name = a || b || c;
        var scoped = scopedVars && scopedVars[name];
        return scoped ? String(scoped.value) : match;
      });
    },
  });

  // ---- datasource_srv.ts (spec 8.2): arity decides between `new C(settings)` and Angular.
  var $injector = angular.injector(['ng']);
  var settingsByName = {};
  var instances = {};

  function importDataSourcePlugin(meta) {
    return SystemJS.import(meta.module).then(function (exports) {
      if (exports.plugin) {
        exports.plugin.meta = meta;
        return exports.plugin;
      }
      if (exports.Datasource) {
        var plugin = new data.DataSourcePlugin(exports.Datasource);
        plugin.setComponentsFromLegacyExports(exports);
        plugin.meta = meta;
        return plugin;
      }
      throw new Error('Plugin module is missing DataSourcePlugin or Datasource constructor export');
    });
  }

  function loadDatasource(name) {
    var settings = settingsByName[name];
    if (!settings) {
      return Promise.reject({ message: 'Datasource named ' + name + ' was not found' });
    }
    return importDataSourcePlugin(settings.meta)
      .then(function (plugin) {
        if (instances[name]) {
          return instances[name];
        }
        var DataSourceClass = plugin.DataSourceClass;
        var instance;
        if (DataSourceClass.length === 1) {
          instance = new DataSourceClass(settings);
          harness.instantiated.push({ name: name, path: 'new' });
        } else {
          // The path a generated class must never take: AngularJS's annotate() gives a
          // zero-arity class no arguments at all (spec 8.2, 8.11).
          harness.injector.push({ name: name, length: DataSourceClass.length });
          harness.instantiated.push({ name: name, path: 'injector' });
          instance = $injector.instantiate(DataSourceClass, { instanceSettings: settings });
        }
        instance.components = plugin.components;
        instance.meta = settings.meta;
        instances[name] = instance;
        return instance;
      })
      .catch(function (error) {
        if (error && error.message && /^Datasource named/.test(error.message)) {
          throw error;
        }
        toast('error', name + ' plugin failed', String(error));
        throw { message: 'Datasource named ' + name + ' was not found' };
      });
  }

  var datasourceSrv = {
    init: function (datasources, defaultName) {
      settingsByName = datasources;
      instances = {};
      this.defaultName = defaultName;
    },
    get: function (nameOrUid) {
      var name = nameOrUid;
      Object.keys(settingsByName).forEach(function (key) {
        if (settingsByName[key].uid === nameOrUid) {
          name = key;
        }
      });
      if (!name || name === 'default') {
        name = this.defaultName;
      }
      if (instances[name]) {
        return Promise.resolve(instances[name]);
      }
      return loadDatasource(name);
    },
    getInstanceSettings: function (nameOrUid) {
      var found = settingsByName[nameOrUid];
      Object.keys(settingsByName).forEach(function (key) {
        if (settingsByName[key].uid === nameOrUid) {
          found = settingsByName[key];
        }
      });
      return found;
    },
    getList: function () {
      return Object.keys(settingsByName).map(function (key) {
        return settingsByName[key];
      });
    },
  };
  runtime.setDataSourceSrv(datasourceSrv);

  function updateFrontendSettings() {
    return backendSrv.get('/api/frontend/settings').then(function (settings) {
      datasourceSrv.init(settings.datasources, settings.defaultDatasource);
      return settings;
    });
  }

  // ---- Time ranges and PanelData.
  function timeRange(range) {
    var from = data.dateTime(range.from);
    var to = data.dateTime(range.to);
    return { from: from, to: to, raw: { from: from, to: to } };
  }

  function runQueries(view, datasource, targets, range, maxDataPoints, requestId, app) {
    var interval = data.rangeUtil.calculateInterval(range, maxDataPoints, datasource.interval);
    var request = {
      app: app,
      requestId: requestId,
      timezone: 'browser',
      range: range,
      interval: interval.interval,
      intervalMs: interval.intervalMs,
      maxDataPoints: maxDataPoints,
      targets: targets,
      scopedVars: {
        __interval: { text: interval.interval, value: interval.interval },
        __interval_ms: { text: String(interval.intervalMs), value: interval.intervalMs },
      },
      startTime: Date.now(),
    };
    harness.runs.push({ view: view, targets: JSON.parse(JSON.stringify(targets)) });
    var seq = harness.runs.length;
    return datasource
      .query(request)
      .pipe(
        operators.map(function (response) {
          return {
            state: response.error ? data.LoadingState.Error : data.LoadingState.Done,
            series: response.data || [],
            error: response.error,
            timeRange: range,
            request: request,
            seq: seq,
          };
        })
      )
      .toPromise();
  }

  // QueryEditorRow.filterPanelDataToQuery (spec 8.4).
  function filterPanelDataToQuery(panelData, refId) {
    if (!panelData) {
      return undefined;
    }
    var series = panelData.series.filter(function (frame) {
      return frame.refId === refId;
    });
    if (!series.length) {
      if (panelData.error && !panelData.series.length) {
        return Object.assign({}, panelData, { state: data.LoadingState.Error });
      }
      return undefined;
    }
    var error = panelData.error && panelData.error.refId === refId ? panelData.error : undefined;
    return Object.assign({}, panelData, {
      state: error ? data.LoadingState.Error : data.LoadingState.Done,
      series: series,
      error: error,
    });
  }

  // ---- explore.ts utilities (spec 8.4).
  var keyCounter = 0;
  function generateKey() {
    keyCounter += 1;
    return 'Q-' + keyCounter;
  }

  function hasNonEmptyQuery(queries) {
    return queries.some(function (query) {
      return (
        Object.keys(query)
          .filter(function (key) {
            return ['refId', 'key', 'context'].indexOf(key) === -1;
          })
          .filter(function (key) {
            return query[key];
          }).length > 0
      );
    });
  }

  // ---- annotations_srv.ts / standardAnnotationSupport.ts (spec 8.3).
  function getAnnotationsFromData(frames) {
    var events = [];
    frames.forEach(function (frame) {
      var timeField = null;
      var textField = null;
      frame.fields.forEach(function (field) {
        if (!timeField && (field.name === 'time' || field.type === data.FieldType.time)) {
          timeField = field.name === 'time' ? field : timeField || field;
        }
        if (field.name === 'text') {
          textField = field;
        }
      });
      if (!textField) {
        textField = frame.fields.filter(function (field) {
          return field.type === data.FieldType.string;
        })[0];
      }
      if (!timeField || !textField) {
        return;
      }
      for (var i = 0; i < frame.length; i++) {
        events.push({ time: timeField.values.get(i), text: textField.values.get(i) });
      }
    });
    return events;
  }

  var standardAnnotationSupport = {
    prepareAnnotation: function (json) {
      if (json && typeof json.query === 'string') {
        var rest = Object.assign({}, json);
        delete rest.query;
        return Object.assign(rest, { target: { query: json.query }, mappings: {} });
      }
      return json;
    },
    prepareQuery: function (annotation) {
      return annotation.target;
    },
  };

  window.PlutonoServices = {
    generateKey: generateKey,
    hasNonEmptyQuery: hasNonEmptyQuery,
    getAnnotationsFromData: getAnnotationsFromData,
    standardAnnotationSupport: standardAnnotationSupport,
    harness: harness,
    backendSrv: backendSrv,
    datasourceSrv: datasourceSrv,
    importDataSourcePlugin: importDataSourcePlugin,
    updateFrontendSettings: updateFrontendSettings,
    timeRange: timeRange,
    runQueries: runQueries,
    filterPanelDataToQuery: filterPanelDataToQuery,
    settingsOf: function (name) {
      return settingsByName[name];
    },
  };
})();
