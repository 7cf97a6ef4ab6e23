"""The OpenAPI schema and the docs page, served entirely from our own static files."""

import re

import yaml


def test_schema_describes_the_api_and_its_bearer_auth(client, db):
    response = client.get("/v1/schema")

    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    assert {"/v1/tts", "/v1/tts/{job_id}", "/v1/tts/{job_id}/audio", "/v1/voices"} <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"


def test_docs_page_loads_no_third_party_asset(client, db):
    response = client.get("/v1/docs")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    external = [url for url in re.findall(r"""(?:src|href)=["']([^"']+)""", html) if url.startswith("http")]
    assert external == []
    for asset in re.findall(r"""src=["'](/static/[^"']+)""", html):
        assert client.get(asset).status_code == 200, asset
