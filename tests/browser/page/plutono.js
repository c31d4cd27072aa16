// The parts of Plutono 7.5.49's own frontend that load and drive a datasource plugin, rebuilt
// from ../shared/spec/plutono-contract.md section 8 (spec 8.x below). Everything a plugin
// touches is real: SystemJS 0.20.19 (the instance inside @grafana/runtime), React 17.0.1, the
// 7.5.17 @grafana packages under the @credativ/plutono-* names, AngularJS 1.8.2's injector.
// What is simulated here is Plutono's glue: plugin_loader.ts, datasource_srv.ts, backend_srv.ts
// and the wrappers that mount the editors (settings page, panel editor, Explore, annotations).
// The tests drive it through window.harness; see tests/interop/README.md.
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

  // What a visualisation would draw, reduced to what the tests read: each frame's fields.
  function Frames(props) {
    var panelData = props.data;
    if (!panelData) {
      return null;
    }
    return h(
      'div',
      { className: 'harness-frames', 'data-state': panelData.state, 'data-seq': String(panelData.seq) },
      panelData.series.map(function (frame, index) {
        return h(
          'table',
          { key: index, className: 'harness-frame', 'data-refid': frame.refId || '', 'data-name': frame.name || '' },
          h(
            'tbody',
            null,
            frame.fields.map(function (field, fieldIndex) {
              var values = [];
              for (var i = 0; i < Math.min(field.values.length, 3); i++) {
                values.push(field.values.get(i));
              }
              return h(
                'tr',
                {
                  key: fieldIndex,
                  className: 'harness-field',
                  'data-name': field.name,
                  'data-type': field.type,
                  'data-length': String(field.values.length),
                  'data-labels': JSON.stringify(field.labels || {}),
                },
                h('td', null, field.name),
                h('td', null, field.type),
                h('td', null, JSON.stringify(values))
              );
            })
          )
        );
      })
    );
  }

  function ErrorLine(props) {
    return props.error ? h('div', { className: 'harness-error', role: 'alert' }, props.error.message) : null;
  }

  function mount(element) {
    var root = document.getElementById('root');
    ReactDOM.unmountComponentAtNode(root);
    root.innerHTML = '';
    ReactDOM.render(element, root);
  }

  // ---- Datasource settings page (spec 8.4 ConfigEditor, 8.6 Save & Test).
  class SettingsPage extends React.Component {
    constructor(props) {
      super(props);
      this.state = { dataSource: null, plugin: null, loadError: null, testingStatus: null };
      this.onModelChange = this.onModelChange.bind(this);
      this.onSubmit = this.onSubmit.bind(this);
    }

    componentDidMount() {
      this.load();
    }

    load() {
      var self = this;
      return backendSrv.get('/api/datasources/' + this.props.id).then(function (dataSource) {
        return backendSrv.get('/api/plugins/' + dataSource.type + '/settings').then(function (meta) {
          return importDataSourcePlugin(meta).then(
            function (plugin) {
              self.setState({ dataSource: dataSource, plugin: plugin });
            },
            function (error) {
              self.setState({ loadError: String((error && error.message) || error) });
            }
          );
        });
      });
    }

    onModelChange(dataSource) {
      harness.changes.push({ view: 'config', value: JSON.parse(JSON.stringify(dataSource)) });
      this.setState({ dataSource: dataSource });
    }

    onSubmit(event) {
      event.preventDefault();
      var self = this;
      var dataSource = this.state.dataSource;
      backendSrv
        .put('/api/datasources/' + dataSource.id, dataSource)
        .then(function () {
          return updateFrontendSettings();
        })
        .then(function () {
          return self.load();
        })
        .then(function () {
          return self.testDataSource(dataSource.name);
        });
    }

    // actions.ts testDataSource: get() is awaited outside the try, so a failing constructor
    // leaves an unhandled rejection and no result (spec 8.2 "On error", 8.6).
    testDataSource(name) {
      var self = this;
      return datasourceSrv.get(name).then(function (dsApi) {
        if (!dsApi.testDatasource) {
          return undefined;
        }
        self.setState({ testingStatus: { status: 'info', message: 'Testing...' } });
        return backendSrv.withNoBackendCache(function () {
          return Promise.resolve()
            .then(function () {
              return dsApi.testDatasource();
            })
            .then(
              function (result) {
                self.setState({ testingStatus: result });
              },
              function (error) {
                var message = error && error.statusText ? 'HTTP Error ' + error.statusText : error && error.message;
                self.setState({ testingStatus: { status: 'error', message: message } });
              }
            );
        });
      });
    }

    render() {
      if (this.state.loadError) {
        return h('div', { className: 'harness-load-error' }, 'Data Source Error: ' + this.state.loadError);
      }
      var dataSource = this.state.dataSource;
      var plugin = this.state.plugin;
      if (!dataSource || !plugin) {
        return h('div', null, 'Loading...');
      }
      var ConfigEditor = plugin.components.ConfigEditor;
      var status = this.state.testingStatus;
      return h(
        'form',
        { onSubmit: this.onSubmit, className: 'harness-settings' },
        h('div', { className: 'harness-basic' }, 'Name: ' + dataSource.name),
        ConfigEditor
          ? h('div', { className: 'harness-config-editor' }, h(ConfigEditor, { options: dataSource, onOptionsChange: this.onModelChange }))
          : h('div', { className: 'harness-config-editor' }),
        status && status.message
          ? h(
              'div',
              { className: 'gf-form-group p-t-2 harness-test-status', 'data-status': status.status },
              h(ui.Alert, {
                severity: status.status === 'error' ? 'error' : 'success',
                title: status.message,
                'aria-label': 'Data source settings page Alert',
              })
            )
          : null,
        h(
          'div',
          { className: 'gf-form-button-row' },
          h(
            ui.Button,
            { type: 'submit', variant: 'primary', 'aria-label': 'Data source settings page Save and Test button', onClick: this.onSubmit },
            'Save & Test'
          )
        )
      );
    }
  }

  // ---- Panel editor query rows (spec 8.4 "QueryEditor in the panel editor", 8.5).
  class PanelEditor extends React.Component {
    constructor(props) {
      super(props);
      this.state = { queries: props.targets, data: undefined };
      this.refresh = this.refresh.bind(this);
    }

    onChangeQuery(index, query) {
      harness.changes.push({ view: 'panel', value: JSON.parse(JSON.stringify(query)) });
      var old = this.state.queries[index];
      var next = query;
      if (old && old.datasource !== undefined) {
        next = Object.assign({}, query, { datasource: old.datasource });
      }
      var queries = this.state.queries.slice();
      queries[index] = next;
      this.setState({ queries: queries });
    }

    // PanelQueryRunner.run: clones with `datasource` set; `hide` is not looked at (spec 8.5).
    refresh() {
      var self = this;
      var props = this.props;
      var targets = this.state.queries.map(function (query) {
        return Object.assign({}, query, { datasource: props.name });
      });
      runQueries('panel', props.datasource, targets, props.range, 500, 'Q100', 'dashboard').then(function (panelData) {
        if (panelData) {
          self.setState({ data: panelData }); // undefined: cancelled by a newer run
        }
      });
    }

    render() {
      var self = this;
      var props = this.props;
      var QueryEditor = props.datasource.components.QueryEditor;
      var rows = this.state.queries.map(function (query, index) {
        var editor = QueryEditor
          ? h(QueryEditor, {
              key: props.name,
              query: query,
              datasource: props.datasource,
              onChange: function (changed) {
                self.onChangeQuery(index, changed);
              },
              onRunQuery: self.refresh,
              data: filterPanelDataToQuery(self.state.data, query.refId),
              range: props.range,
              queries: self.state.queries,
            })
          : h('div', null, 'Data source plugin does not export any Query Editor component');
        return h(
          'div',
          { key: query.refId, className: 'harness-query-row', 'data-refid': query.refId },
          h('div', { className: 'harness-query-header' }, query.refId),
          h(ui.ErrorBoundaryAlert, null, editor)
        );
      });
      var panelData = this.state.data;
      return h(
        'div',
        { className: 'harness-panel-editor' },
        h(ui.Button, { 'aria-label': 'Refresh dashboard', onClick: this.refresh, type: 'button' }, 'Refresh'),
        h('div', { className: 'harness-panel' }, panelData ? h(ErrorLine, { error: panelData.error }) : null, h(Frames, { data: panelData })),
        rows
      );
    }
  }

  // ---- Explore (spec 8.4 "QueryEditor in Explore"; explore.ts hasNonEmptyQuery).
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

  class Explore extends React.Component {
    constructor(props) {
      super(props);
      this.state = { queries: props.queries, data: undefined, ran: 0, skipped: 0 };
      this.run = this.run.bind(this);
    }

    onChange(index, query) {
      harness.changes.push({ view: 'explore', value: JSON.parse(JSON.stringify(query)) });
      var queries = this.state.queries.slice();
      queries[index] = Object.assign({}, query, { key: generateKey() });
      this.setState({ queries: queries });
    }

    run() {
      var self = this;
      var queries = this.state.queries;
      harness.queries = queries;
      if (!hasNonEmptyQuery(queries)) {
        this.setState({ skipped: this.state.skipped + 1 });
        return;
      }
      runQueries('explore', this.props.datasource, queries, this.props.range, 1000, 'explore', 'explore').then(function (panelData) {
        if (panelData) {
          self.setState({ data: panelData, ran: self.state.ran + 1 });
        }
      });
    }

    render() {
      var self = this;
      var props = this.props;
      var QueryEditor = props.datasource.components.QueryEditor;
      var panelData = this.state.data;
      var rows = this.state.queries.map(function (query, index) {
        var error = panelData && panelData.error && panelData.error.refId === query.refId ? panelData.error : undefined;
        return h(
          'div',
          { key: query.refId, className: 'harness-query-row', 'data-refid': query.refId },
          h(QueryEditor, {
            datasource: props.datasource,
            query: query,
            history: [],
            onRunQuery: self.run,
            onBlur: function () {},
            onChange: function (changed) {
              self.onChange(index, changed);
            },
            data: panelData,
            range: props.range,
            exploreId: 'left',
          }),
          h(ErrorLine, { error: error })
        );
      });
      return h(
        'div',
        { className: 'harness-explore', 'data-ran': String(this.state.ran), 'data-skipped': String(this.state.skipped) },
        h(ui.Button, { 'aria-label': 'Run query', onClick: this.run, type: 'button' }, 'Run query'),
        rows,
        h(Frames, { data: panelData })
      );
    }
  }

  // ---- Annotations (spec 8.3: the React editor iff the instance has `annotations`).
  var annotationCounter = 0;

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

  class AnnotationEditor extends React.Component {
    constructor(props) {
      super(props);
      this.state = { annotation: props.annotation, running: false, response: null };
      this.onRunQuery = this.onRunQuery.bind(this);
    }

    componentDidMount() {
      var processor = Object.assign({}, standardAnnotationSupport, this.props.datasource.annotations);
      var fixed = processor.prepareAnnotation(this.state.annotation);
      if (fixed !== this.state.annotation) {
        this.setState({ annotation: fixed });
      }
      this.onRunQuery();
    }

    // The stored annotation changes, and the editor verifies and runs it again.
    onQueryChange(target) {
      harness.changes.push({ view: 'annotations', value: JSON.parse(JSON.stringify(target)) });
      this.setState({ annotation: Object.assign({}, this.state.annotation, { target: target }) }, this.onRunQuery);
    }

    onRunQuery() {
      var self = this;
      var datasource = this.props.datasource;
      var processor = Object.assign({}, standardAnnotationSupport, datasource.annotations);
      var annotation = processor.prepareAnnotation(this.state.annotation);
      var query = processor.prepareQuery(annotation);
      if (!query) {
        this.setState({ response: { skipped: true } });
        return;
      }
      annotationCounter += 1;
      this.setState({ running: true });
      var target = Object.assign({}, query, { refId: 'Anno' });
      runQueries('annotations', datasource, [target], this.props.range, 1000, 'AQ' + annotationCounter, 'dashboard').then(function (panelData) {
        if (!panelData) {
          return;
        }
        var processed = processor.processEvents
          ? processor.processEvents(annotation, panelData.series)
          : rxjs.of(getAnnotationsFromData(panelData.series));
        return rxjs.from(processed).toPromise().then(function (events) {
          self.setState({ running: false, response: { panelData: panelData, events: events || [] } });
        });
      });
    }

    renderStatus() {
      var response = this.state.response;
      if (this.state.running || !response) {
        return 'loading...';
      }
      if (response.skipped) {
        return 'No query';
      }
      if (response.panelData.error) {
        return response.panelData.error.message;
      }
      if (!response.events || !response.events.length) {
        return 'No events found';
      }
      return response.events.length + ' events (from ' + response.panelData.series.length + ' frames)';
    }

    render() {
      var self = this;
      var datasource = this.props.datasource;
      var QueryEditor = (datasource.annotations && datasource.annotations.QueryEditor) || datasource.components.QueryEditor;
      var query = this.state.annotation.target || { refId: 'Anno' };
      var editor = QueryEditor
        ? h(QueryEditor, {
            key: datasource.name,
            datasource: datasource,
            query: query,
            onChange: function (target) {
              self.onQueryChange(target);
            },
            onRunQuery: this.onRunQuery,
            data: this.state.response && this.state.response.panelData,
            range: this.props.range,
          })
        : h('div', null, 'Annotations are not supported. This datasource needs to export a QueryEditor');
      return h(
        'div',
        { className: 'harness-annotations' },
        h('div', { className: 'harness-annotation-editor' }, editor),
        h('div', { className: 'harness-annotation-status' }, this.renderStatus())
      );
    }
  }

  // ---- Entry points for the tests.
  harness.ready = updateFrontendSettings();

  harness.openSettings = function (name) {
    var settings = settingsByName[name];
    mount(h(SettingsPage, { id: settings.id }));
  };

  function withInstance(name, render) {
    return datasourceSrv.get(name).then(
      function (instance) {
        mount(render(instance));
        return true;
      },
      function (error) {
        // QueryGroup.componentDidMount: the rows never render.
        console.error('failed to load data source', error);
        mount(h('div', { className: 'harness-no-datasource' }));
        return false;
      }
    );
  }

  harness.openPanel = function (name, targets, range) {
    return withInstance(name, function (instance) {
      return h(PanelEditor, { name: name, datasource: instance, targets: targets, range: timeRange(range) });
    });
  };

  harness.openExplore = function (name, queries, range) {
    return withInstance(name, function (instance) {
      return h(Explore, { name: name, datasource: instance, queries: queries, range: timeRange(range) });
    });
  };

  harness.openAnnotations = function (name, annotation, range) {
    return withInstance(name, function (instance) {
      if (instance.annotations) {
        return h(AnnotationEditor, { datasource: instance, annotation: annotation, range: timeRange(range) });
      }
      // The Angular annotations-query-ctrl-<id> directive (plugin_component.ts): without an
      // AnnotationsQueryCtrl the lookup fails, is logged, and the Query section stays empty.
      var ctrl = instance.components.AnnotationsQueryCtrl;
      if (!ctrl) {
        console.error('Plugin component error', {
          message: 'Failed to find exported plugin component for annotations-query-ctrl-' + instance.meta.id,
        });
      }
      return h('div', { className: 'harness-annotations harness-angular-annotations', 'data-has-ctrl': String(Boolean(ctrl)) });
    });
  };

  // datasource_srv.get() by itself, for the instantiation tests.
  harness.instantiate = function (name) {
    return datasourceSrv.get(name).then(
      function (instance) {
        return { ok: true, name: instance.name, id: instance.id, hasComponents: Boolean(instance.components) };
      },
      function (error) {
        return { ok: false, error: error.message };
      }
    );
  };
})();
