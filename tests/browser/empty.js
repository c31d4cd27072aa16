// Stands in for Node built-ins (`fs`) that @grafana/runtime's bundled SystemJS only uses in Node.
module.exports = {};
