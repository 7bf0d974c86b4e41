// The API reference at /api/docs: Swagger UI (embedded from swagger-ui-dist) reading the
// server's own OpenAPI document. A module file, not an inline script, because the pages'
// Content-Security-Policy allows scripts from this site only.
/* global SwaggerUIBundle */
SwaggerUIBundle({
  url: '/api/v1/openapi.json',
  dom_id: '#api-docs',
  deepLinking: true,
  // "Try it out" sends requests from this page: with the console's session cookie when
  // signed in, or with a token entered under "Authorize".
  withCredentials: true,
  // Never fetch anything from elsewhere (the validator badge would call swagger.io).
  validatorUrl: null,
});
