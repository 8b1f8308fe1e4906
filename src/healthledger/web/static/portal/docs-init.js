// Starts the vendored Swagger UI on /docs from a file, not an inline script, so the docs
// page keeps a Content-Security-Policy as strict as the portal's (they share an origin,
// and so the portal's remembered keys).
const root = document.getElementById("swagger-ui");
window.SwaggerUIBundle({
  url: root.dataset.openapi,
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [window.SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  // Never fetch a spec named in the page's URL: only this node's own.
  queryConfigEnabled: false,
});
