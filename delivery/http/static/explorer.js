// The API explorer of /docs: Swagger UI (from the installed openapi-ui-bundles package) over this
// service's own /openapi.json; "Authorize" takes a bearer token, "Try it out" calls the origin
// the page came from (whatever host and port the service is reached at).
"use strict";
fetch("/openapi.json").then(r => r.json()).then(spec => {
  spec.servers = [{url: window.location.origin, description: "this service"}];
  window.ui = SwaggerUIBundle({
    spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
