"""Every operation of the live OpenAPI schema has an SDK method, and the SDK names no operation the API lacks."""

from __future__ import annotations

import json

from odiadev_sdk import OPERATIONS, AsyncClient, Client

HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}


def _schema_operation_ids(client) -> set[str]:
    response = client.get("/v1/schema?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    return {
        operation["operationId"]
        for item in schema["paths"].values()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def _resolve(client: object, dotted: str):
    target = client
    for name in dotted.split("."):
        target = getattr(target, name, None)
    return target


def test_every_schema_operation_has_an_sdk_method_and_no_sdk_entry_is_stale(client, db):
    operation_ids = _schema_operation_ids(client)

    assert len(operation_ids) > 30  # the schema was read, not an empty document
    assert sorted(operation_ids - set(OPERATIONS)) == [], "operations without an SDK method (add them to OPERATIONS)"
    assert sorted(set(OPERATIONS) - operation_ids) == [], "SDK entries for operations the API no longer has"


def test_every_mapped_method_exists_on_both_clients():
    sync, asynchronous = Client(api_key="k", base_url="http://sdk.invalid"), AsyncClient(api_key="k")
    missing = [
        f"{kind}: {operation_id} -> {dotted}"
        for operation_id, dotted in OPERATIONS.items()
        for kind, sdk in (("Client", sync), ("AsyncClient", asynchronous))
        if not callable(_resolve(sdk, dotted))
    ]
    sync.close()

    assert missing == []
