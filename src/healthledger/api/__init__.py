"""REST API (FastAPI) with an OpenAPI document; every error is JSON with a stable code."""
