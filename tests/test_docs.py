"""The docs: the OpenAPI schema and its page (our own static files), and the Markdown reference under docs/."""

import re

from tests.support.markdown import ROOT, anchors, code_blocks, links, markdown_files, split


def test_schema_describes_the_api_and_its_bearer_auth(client, db):
    response = client.get("/v1/schema?format=json")

    assert response.status_code == 200
    schema = response.json()
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


# ------------------------------------------------------------------------------------------------------------
# docs/: the reference the README links to.
# ------------------------------------------------------------------------------------------------------------
def _settings_environment_variables() -> set[str]:
    read = set()
    for path in (ROOT / "odiadev" / "settings").glob("*.py"):
        read |= set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z0-9_]+)"', path.read_text()))
    return read


def _env_example_keys() -> set[str]:
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), flags=re.MULTILINE))


def _configuration_table_names() -> set[str]:
    """The variables named in the first column of docs/configuration.md's tables."""
    names = set()
    for line in split(ROOT / "docs" / "configuration.md")[0]:
        if line.startswith("| `"):
            names |= set(re.findall(r"`([A-Z][A-Z0-9_<>]+)`", line.split("|")[1]))
    return names


def test_every_environment_variable_the_settings_read_has_a_row_in_the_configuration_table():
    read = _settings_environment_variables()

    assert len(read) > 50, "the settings are read with env(...): the pattern above must still find them"
    assert sorted(read - _configuration_table_names()) == []


def test_every_variable_in_env_example_is_documented_in_the_configuration_page():
    keys = _env_example_keys()
    page = (ROOT / "docs" / "configuration.md").read_text()

    assert len(keys) > 50
    assert sorted(key for key in keys if f"`{key}`" not in page) == []


def test_every_relative_link_in_the_readme_and_docs_resolves_to_a_file_and_heading():
    broken = []
    for page in markdown_files():
        for target in links(page):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            path_part, _, anchor = target.partition("#")
            resolved = (page.parent / path_part).resolve() if path_part else page
            if not resolved.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")

    assert broken == []


def test_every_makefile_target_is_named_in_the_readme_or_docs():
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))
    text = "\n".join(page.read_text() for page in markdown_files())

    assert {"run", "test", "lint", "schemathesis", "gpu-worker"} <= targets
    assert sorted(target for target in targets if f"make {target}" not in text) == []


def test_the_reference_pages_exist_and_carry_runnable_examples():
    pages = {path.name for path in (ROOT / "docs").glob("*.md")}
    examples = [block for page in markdown_files() for block in code_blocks(page) if block.is_test]

    assert {
        "api.md", "cloning.md", "consent.md", "billing.md", "webhooks.md", "provenance.md", "configuration.md",
        "architecture.md", "scaling.md", "testing.md", "benchmarks.md", "security.md", "operations.md", "storage.md",
    } <= pages  # fmt: skip
    assert {block.path.name for block in examples} >= {"README.md", "api.md", "webhooks.md", "provenance.md"}
    assert all(block.language in {"sh", "python"} for block in examples), [b.name for b in examples]
