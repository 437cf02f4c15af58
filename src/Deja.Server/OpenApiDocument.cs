namespace Deja.Server;

/// <summary>
/// /openapi.json, written by hand (OpenAPI 3.1): the API is small and stable, and a hand-written document
/// says what the schemas mean — the flag rule, the noise, the limits — which generated ones do not.
/// </summary>
public static class OpenApiDocument
{
    public const string Json = """
{
  "openapi": "3.1.0",
  "info": {
    "title": "Deja prompt-screening service",
    "version": "1",
    "description": "Scores prompts for memorization with the detectors of `deja detect` (same model, method, parameters and noise, so the same scores within the determinism contract). Flag rule: flagged ⇔ score > threshold. Every refusal is {\"error\": {\"field\", \"message\"}}. With --api-key-file, /v1/* and /metrics need 'Authorization: Bearer KEY'."
  },
  "components": {
    "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
    "schemas": {
      "Error": {
        "type": "object", "required": ["error"],
        "properties": { "error": { "type": "object", "required": ["field", "message"], "properties": {
          "field": { "type": "string", "description": "The JSON field at fault (prompts[2], method, …), or body for the body as a whole" },
          "message": { "type": "string" } } } }
      },
      "Model": { "type": "object", "description": "The model's identity as score rows record it: id (fingerprint), name, family, prediction", "additionalProperties": true },
      "ScreenRequest": {
        "type": "object", "required": ["prompts"], "additionalProperties": false,
        "properties": {
          "prompts": { "type": "array", "minItems": 1, "maxItems": 64, "description": "At most --max-prompts (64) non-empty prompts of at most --max-prompt-chars (2000) characters", "items": { "type": "string", "minLength": 1 } },
          "method": { "type": "string", "description": "Optional; must equal the served method (deja serve --method, default anisotropy)" }
        }
      },
      "ScreenResult": {
        "type": "object",
        "properties": {
          "prompt": { "type": "string" },
          "scores": { "type": "object", "additionalProperties": { "type": "number" }, "description": "Every score column of the method, as deja detect writes them" },
          "flagged": { "type": ["boolean", "null"], "description": "score[threshold_column] > threshold; null when the service has no threshold" },
          "threshold": { "type": ["number", "null"] },
          "threshold_column": { "type": ["string", "null"] },
          "tokens": { "type": "integer", "description": "Token count with BOS and EOS, before truncation" },
          "truncated": { "type": "boolean", "description": "Longer than the text encoder's 77 tokens, and cut there" }
        }
      },
      "ScreenResponse": {
        "type": "object",
        "properties": {
          "results": { "type": "array", "items": { "$ref": "#/components/schemas/ScreenResult" }, "description": "One per prompt, in request order" },
          "method": { "type": "string" },
          "model": { "$ref": "#/components/schemas/Model" },
          "params": { "type": "object", "description": "The detectors' parameters and the noise, as deja detect's rows record them" }
        }
      },
      "ExplainRequest": {
        "type": "object", "required": ["prompts"], "additionalProperties": false,
        "properties": { "prompts": { "type": "array", "minItems": 1, "maxItems": 64, "items": { "type": "string", "minLength": 1 } } }
      },
      "ExplainResponse": {
        "type": "object",
        "properties": {
          "results": { "type": "array", "items": { "type": "object", "properties": {
            "index": { "type": "integer" }, "prompt": { "type": "string" }, "truncated": { "type": "boolean" },
            "tokens": { "type": "array", "items": { "type": "object", "properties": {
              "position": { "type": "integer" }, "token": { "type": "string" }, "significance": { "type": "number" } } } } } } },
          "model": { "$ref": "#/components/schemas/Model" }
        }
      },
      "GenerateRequest": {
        "type": "object", "required": ["prompt"], "additionalProperties": false,
        "properties": {
          "prompt": { "type": "string", "minLength": 1 },
          "seed": { "type": "integer", "default": 0 },
          "steps": { "type": "integer", "minimum": 1, "description": "DDIM steps, at most --max-steps (default 50, also the default here)" },
          "guidance": { "type": "number", "minimum": 0, "maximum": 50, "default": 7.5 },
          "guard": { "type": "boolean", "default": false, "description": "Score the prompt on the generation's own noise first and mitigate only when flagged" },
          "mitigate": { "type": ["string", "null"], "enum": ["prompt", "prompt-anisotropy", "sail", "random-tokens", null], "description": "Mitigation (with guard: of flagged prompts only; default prompt)" }
        }
      }
    },
    "responses": {
      "Error": { "description": "Refused", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
    }
  },
  "security": [{ "bearer": [] }],
  "paths": {
    "/v1/screen": { "post": {
      "summary": "Screen prompts for memorization (dynamically batched with other requests)",
      "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ScreenRequest" } } } },
      "responses": {
        "200": { "description": "Scores and verdicts", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ScreenResponse" } } } },
        "400": { "$ref": "#/components/responses/Error" }, "401": { "$ref": "#/components/responses/Error" },
        "413": { "$ref": "#/components/responses/Error" }, "429": { "$ref": "#/components/responses/Error" }, "503": { "$ref": "#/components/responses/Error" }
      } } },
    "/v1/explain": { "post": {
      "summary": "Token significance (Wen et al.): which tokens drive the text-conditional noise prediction",
      "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ExplainRequest" } } } },
      "responses": {
        "200": { "description": "Per-token significances", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ExplainResponse" } } } },
        "400": { "$ref": "#/components/responses/Error" }, "401": { "$ref": "#/components/responses/Error" }, "503": { "$ref": "#/components/responses/Error" }
      } } },
    "/v1/generate": { "post": {
      "summary": "Generate one image (PNG), optionally guarded and mitigated; headers X-Deja-Flagged, X-Deja-Score, X-Deja-Threshold, X-Deja-Mitigation, X-Deja-Seed",
      "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/GenerateRequest" } } } },
      "responses": {
        "200": { "description": "The image", "content": { "image/png": { "schema": { "type": "string", "format": "binary" } } } },
        "400": { "$ref": "#/components/responses/Error" }, "401": { "$ref": "#/components/responses/Error" }, "503": { "$ref": "#/components/responses/Error" }
      } } },
    "/v1/info": { "get": { "summary": "Model, method, parameters, threshold and limits", "responses": { "200": { "description": "Service description" } } } },
    "/healthz": { "get": { "summary": "Liveness (no authentication)", "security": [], "responses": { "200": { "description": "Alive" } } } },
    "/readyz": { "get": { "summary": "Readiness: the model is loaded (no authentication)", "security": [],
      "responses": { "200": { "description": "Ready" }, "503": { "description": "Loading" } } } },
    "/metrics": { "get": { "summary": "Prometheus text: requests, latency histogram, batch sizes, queue length, flagged count",
      "responses": { "200": { "description": "Metrics", "content": { "text/plain": { "schema": { "type": "string" } } } } } } }
  }
}
""";
}
