"""Every example in README.md and docs/ marked `sh test` or `python test` runs, as a reader would run it, against
the live stack (Daphne + a Celery worker + Redis + Piper): with $ODIADEV_URL and $KEY set, in an empty folder, and
must exit 0 and write the audio files its info string names (```sh test hello.mp3). A shell or Python block that
cannot run here says so (```sh norun: starting the product, a deployment's own folders, a long benchmark); YAML
blocks must parse."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import soundfile as sf
import yaml

from accounts.services import api_key_create
from billing.services import plan_assign
from tests.factories import UserFactory
from tests.support.markdown import code_blocks, markdown_files

EXAMPLES = [block for page in markdown_files() for block in code_blocks(page) if block.is_test]
RUNNERS = {"sh": ["bash", "-eo", "pipefail", "example.sh"], "python": [sys.executable, "example.py"]}
DECODABLE = {".mp3", ".wav", ".flac", ".ogg"}


@pytest.fixture
def reader_env(stack):
    """What the README tells a reader to export: the server's address and an API key of a Pro account."""
    user = UserFactory()
    plan_assign(user=user, slug="pro")  # every format, as the examples use several
    secret = api_key_create(user=user, name="docs").secret
    # The reader works in the project's environment: `python` is the one with its packages.
    path = f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "ODIADEV_URL": stack.base_url, "KEY": secret}


def test_every_shell_and_python_block_runs_or_says_it_cannot():
    blocks = [block for page in markdown_files() for block in code_blocks(page)]
    unmarked = [
        block.name
        for block in blocks
        if block.language in {"sh", "bash", "shell", "console", "python", "py"}
        and not block.is_test
        and block.words[1:2] != ["norun"]
    ]
    assert not unmarked, f"mark these `test` (the suite runs them) or `norun` (say why in the text): {unmarked}"


def test_yaml_examples_parse():
    blocks = [block for page in markdown_files() for block in code_blocks(page) if block.language in {"yaml", "yml"}]
    assert blocks
    for block in blocks:
        assert yaml.safe_load(block.code) is not None, block.name


def test_there_are_examples_to_run():
    assert len(EXAMPLES) >= 8
    assert {block.language for block in EXAMPLES} == set(RUNNERS)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("example", EXAMPLES, ids=[block.name for block in EXAMPLES])
def test_the_example_runs_and_writes_audio(example, reader_env, tmp_path, stack):
    script = tmp_path / ("example.sh" if example.language == "sh" else "example.py")
    script.write_text(example.code)

    result = subprocess.run(
        RUNNERS[example.language], cwd=tmp_path, env=reader_env, capture_output=True, text=True, timeout=90
    )

    assert result.returncode == 0, (
        f"{example.name} exited {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    for name in example.outputs:
        path = tmp_path / name
        assert path.is_file(), f"{example.name} did not write {name}"
        if path.suffix in DECODABLE:
            samples, rate = sf.read(path)
            assert len(samples) / rate > 0.5, f"{name}: {len(samples) / rate:.2f} s of audio"
        else:  # raw 16-bit samples (pcm)
            data = path.read_bytes()
            assert len(data) % 2 == 0
            assert len(data) > 16000, f"{name}: {len(data)} bytes"
