// Swagger UI of /api.html, from our vendored copy. A file, not an inline script: the page's
// Content-Security-Policy runs scripts from our origin only. The page says where the document is.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // The default sends the document to validator.swagger.io; nothing leaves our origin.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    onComplete: function () {
      document.documentElement.setAttribute("data-api-docs-ready", "");
    },
  });
})();
