"""OpenAPI helpers shared by transports and routers."""

from typing import Any

OpenAPIResponseType = dict[int | str, dict[str, Any]]
"""The `responses` argument of a FastAPI route."""
