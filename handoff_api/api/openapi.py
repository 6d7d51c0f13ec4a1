"""The OpenAPI document as the service really answers: a 422 carries either FastAPI's list of validation
errors or, for a rule the domain checks (`handoff_api.core.errors.Invalid`), one message naming the field."""

from typing import Any

from fastapi import FastAPI


def document_domain_errors(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        error = schema.get("components", {}).get("schemas", {}).get("HTTPValidationError")
        if error is not None:
            listed = error["properties"]["detail"]
            error["properties"]["detail"] = {
                "title": "Detail",
                "anyOf": [
                    {k: v for k, v in listed.items() if k != "title"},
                    {"type": "string", "description": "a domain rule's message, naming the field first"},
                ],
            }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
