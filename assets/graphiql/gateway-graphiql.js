// Starts GraphiQL on the page the gateway serves at GET /graphql (see
// src/server/graphiql.rs). This file is the gateway's own, not vendored: it is
// a separate file rather than an inline script so the page's
// Content-Security-Policy can forbid inline scripts and every other host.
(function () {
  'use strict';

  var config = JSON.parse(document.getElementById('graphiql-config').textContent);

  // Relative endpoints resolve against this page, so the page works behind any
  // host name and port, and a page served over https talks wss.
  function httpUrl(endpoint) {
    return new URL(endpoint, window.location.href).toString();
  }
  function wsUrl(endpoint) {
    var url = new URL(endpoint, window.location.href);
    if (url.protocol === 'http:') url.protocol = 'ws:';
    if (url.protocol === 'https:') url.protocol = 'wss:';
    return url.toString();
  }

  // The prefilled Authorization value is a hint, not a token; sending it would
  // earn a 401, so until it is replaced the request goes out as anon. A real
  // token never contains '<'.
  function withoutPlaceholder(headers) {
    if (!headers) return headers;
    var out = {};
    Object.keys(headers).forEach(function (name) {
      var value = headers[name];
      var isHint = name.toLowerCase() === 'authorization' &&
        typeof value === 'string' && value.indexOf('<') !== -1;
      if (!isHint) out[name] = value;
    });
    return out;
  }

  // Subscriptions go over graphql-ws (bundled inside GraphiQL); the headers
  // editor's object becomes the connection_init payload.
  var inner = GraphiQL.createFetcher({
    url: httpUrl(config.endpoint),
    subscriptionUrl: wsUrl(config.wsEndpoint),
  });
  function fetcher(params, opts) {
    var options = Object.assign({}, opts);
    options.headers = withoutPlaceholder(options.headers);
    return inner(params, options);
  }

  var props = {
    fetcher: fetcher,
    defaultQuery: config.defaultQuery,
    defaultHeaders: config.defaultHeaders,
    isHeadersEditorEnabled: true,
    defaultEditorToolsVisibility: 'headers',
  };
  // Links like /graphql?query=...&variables=... open with that operation in
  // the editor. It is never run by itself: the user presses the run button.
  var search = new URLSearchParams(window.location.search);
  if (search.has('query')) props.query = search.get('query');
  if (search.has('variables')) props.variables = search.get('variables');

  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, props)
  );
})();
