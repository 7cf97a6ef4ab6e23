"""The README is a page a newcomer reads in two minutes: what it is, the two commands, runnable examples, links."""

import re

from tests.support.markdown import ROOT, code_blocks, links, split

README = ROOT / "README.md"


def _makefile_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))


def test_the_readme_is_short():
    lines = README.read_text().splitlines()

    assert len(lines) <= 150, f"README.md has {len(lines)} lines: move reference into docs/"
    assert max(len(line) for line in split(README)[0]) <= 200


def test_the_two_commands_for_a_fresh_machine_are_the_makefiles():
    first_block = code_blocks(README)[0]

    commands = [line.split("#")[0].strip() for line in first_block.code.splitlines() if line.strip()]
    assert commands == ["make run", "make test"]
    assert {"run", "test"} <= _makefile_targets()


def test_the_readme_shows_curl_openai_and_streaming_examples_the_suite_runs():
    examples = [block for block in code_blocks(README) if block.is_test]
    code = "\n".join(block.code for block in examples)

    assert {block.language for block in examples} == {"sh", "python"}
    for needle in ('curl -fsS "$ODIADEV_URL/v1/tts"', '"wait": true', "from openai import OpenAI", "audio.speech"):
        assert needle in code
    for needle in ("--no-buffer", "/v1/tts/stream"):
        assert needle in code
    assert all(block.outputs for block in examples), "each README example names the audio file it downloads"


def test_the_readme_links_every_page_of_the_docs():
    linked = {target.split("#")[0] for target in links(README)}

    pages = {f"docs/{path.name}" for path in (ROOT / "docs").glob("*.md")}
    assert pages - linked == set()
    assert "deploy/README.md" in linked


def test_every_security_line_links_its_reference():
    text = README.read_text()
    section = text[text.index("## Security") :]
    items = [line for line in section.splitlines() if line.startswith("- ")]

    assert len(items) >= 10
    unlinked = [item for item in items if not re.search(r"\]\(docs/[a-z]+\.md#[a-z0-9-]+\)", item)]
    assert unlinked == []
