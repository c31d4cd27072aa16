// The wrappers in which Plutono 7.5.49 mounts a datasource plugin's React components: the
// datasource settings page with Save & Test, the panel editor's query rows, Explore and the
// standard annotation editor, each with the props and behaviour of spec 8.3-8.6. They use the
// services of services.js; the entry points at the end are what the tests call.
'use strict';

(function () {
  var shared = window.PlutonoShared;
  var services = window.PlutonoServices;
  var React = shared.react;
  var ReactDOM = shared['react-dom'];
  var data = shared['@credativ/plutono-data'];
  var ui = shared['@credativ/plutono-ui'];
  var rxjs = shared.rxjs;
  var h = React.createElement;
  var harness = services.harness;
  var backendSrv = services.backendSrv;
  var datasourceSrv = services.datasourceSrv;
  var importDataSourcePlugin = services.importDataSourcePlugin;
  var updateFrontendSettings = services.updateFrontendSettings;
  var timeRange = services.timeRange;
  var runQueries = services.runQueries;
  var filterPanelDataToQuery = services.filterPanelDataToQuery;
  var generateKey = services.generateKey;
  var hasNonEmptyQuery = services.hasNonEmptyQuery;
  var getAnnotationsFromData = services.getAnnotationsFromData;
  var standardAnnotationSupport = services.standardAnnotationSupport;

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
      harness.panelQueries = props.targets; // what the dashboard would save (spec 8.8)
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
      harness.panelQueries = queries;
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
        // The panel pane has a fixed height, as in the panel editor: rows below never move.
        h('div', { className: 'harness-panel', style: { height: 240, overflow: 'auto' } }, panelData ? h(ErrorLine, { error: panelData.error }) : null, h(Frames, { data: panelData })),
        rows
      );
    }
  }

  // ---- Explore (spec 8.4 "QueryEditor in Explore"; explore.ts hasNonEmptyQuery).
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
    var settings = services.settingsOf(name);
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
