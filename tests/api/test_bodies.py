"""`api.bodies`: the OpenAPI document of bodies a route parses itself."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from pydantic import BaseModel, create_model

from api.bodies import document_schemas, documented


class Inner(BaseModel):
    n: int


class Outer(BaseModel):
    inner: Inner


def test_a_documented_body_and_the_schemas_it_uses_are_defined() -> None:
    app = FastAPI()

    @app.post("/outer", openapi_extra=documented(Outer))
    def outer() -> None: ...

    document_schemas(app, [Outer])
    document = app.openapi()
    schemas = document["components"]["schemas"]
    assert schemas["Outer"]["properties"]["inner"] == {"$ref": "#/components/schemas/Inner"}
    assert schemas["Inner"]["properties"]["n"]["type"] == "integer"
    body = document["paths"]["/outer"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Outer"}


#: Another model named Inner, as a route FastAPI documents itself would take.
OtherInner = create_model("Inner", text=(str, ...))


def test_two_schemas_of_one_name_are_refused_not_overwritten() -> None:
    app = FastAPI()

    @app.post("/inner")
    def inner(body: OtherInner) -> None: ...  # type: ignore[valid-type]

    document_schemas(app, [Outer])
    with pytest.raises(ValueError, match="two different OpenAPI schemas are named Inner"):
        app.openapi()
