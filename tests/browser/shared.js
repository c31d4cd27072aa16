// Entry of the browser bundle: the libraries Plutono 7.5.49 exposes to plugins (spec 8.1,
// plugin_loader.ts `exposeToPlugin`), at the versions Plutono pins. The @grafana 7.5.17
// packages stand in for Plutono's @credativ/plutono-* forks. page/services.js registers them in
// the SystemJS instance that @grafana/runtime carries, under Plutono's names.
'use strict';

window.PlutonoShared = {
  react: require('react'),
  'react-dom': require('react-dom'),
  '@credativ/plutono-data': require('@grafana/data'),
  '@credativ/plutono-ui': require('@grafana/ui'),
  '@credativ/plutono-runtime': require('@grafana/runtime'),
  lodash: require('lodash'),
  moment: require('moment'),
  jquery: require('jquery'),
  angular: require('angular'),
  d3: require('d3'),
  rxjs: require('rxjs'),
  'rxjs/operators': require('rxjs/operators'),
  prismjs: require('prismjs'),
  slate: require('slate'),
  'slate-react': require('slate-react'),
  'slate-plain-serializer': require('slate-plain-serializer'),
  'react-redux': require('react-redux'),
  redux: require('redux'),
  emotion: require('emotion'),
};
