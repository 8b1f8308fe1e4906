"""Mount the reads every domain publishes (`View`s) as GET routes.

A domain declares a view without HTTP: a path, a model of its parameters, a
model of its answer, who may call it. Here each becomes a route: parameters
are parsed into the model (a bad one is `invalid_field`, in our words), a
member view demands a signed request (`ReadGuard.member`), the view runs on
one committed snapshot, and the answer is the model's JSON. The OpenAPI
document gets the parameters and the response schema from the same models.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from healthledger.api.access import ReadGuard
from healthledger.app.reader import run_view
from healthledger.app.registry import first_problem
from healthledger.domains.kit import Access, Domain, View
from healthledger.errors import InvalidField
from healthledger.node.node import Node

_PATH_PARAM = re.compile(r"{([a-z_]+)(?::path)?}")


def add_domain_views(app: FastAPI, node: Node, guard: ReadGuard, domains: Sequence[Domain]) -> None:
    """One GET route per published view of every domain."""
    for domain in domains:
        for view in domain.views:
            app.add_api_route(
                view.path,
                _endpoint(node, guard, view),
                methods=["GET"],
                name=f"{domain.name}.{view.name}",
                tags=[domain.name],
                summary=view.summary
                + ("" if view.access is Access.PUBLIC else " (signed: members)"),
                response_class=Response,
                responses={200: {"model": view.response, "content": {view.media_type: {}}}},
                openapi_extra={"parameters": _parameters(view)},
            )


def _endpoint(node: Node, guard: ReadGuard, view: View) -> Callable[[Request], Response]:
    def endpoint(request: Request) -> Response:
        if view.access is Access.MEMBER:
            guard.member(request)
        params = parse_params(view, {**request.query_params, **request.path_params})
        answer = run_view(node.store, view, params)
        return Response(orjson.dumps(answer.model_dump(mode="json")), media_type=view.media_type)

    return endpoint


def parse_params(view: View, raw: dict[str, Any]) -> BaseModel:
    """The request's parameters as the view's model; `invalid_field` naming the first problem."""
    try:
        return view.params.model_validate(raw)
    except ValidationError as exc:
        raise InvalidField(f"{view.name}: {first_problem(exc)}") from exc


def _parameters(view: View) -> list[dict[str, Any]]:
    """OpenAPI parameters from the params model: path ones by the path, the rest query."""
    schema = view.params.model_json_schema()
    in_path = set(_PATH_PARAM.findall(view.path))
    required = set(schema.get("required", ()))
    return [
        {
            "name": name,
            "in": "path" if name in in_path else "query",
            "required": name in in_path or name in required,
            "schema": field_schema,
            **(
                {"description": field_schema["description"]}
                if "description" in field_schema
                else {}
            ),
        }
        for name, field_schema in schema.get("properties", {}).items()
    ]
