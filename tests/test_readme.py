"""README's Configure table documents every setting read from the environment."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_environment_variable_is_in_the_configure_table():
    read = set()
    for path in (ROOT / "odiadev" / "settings").glob("*.py"):
        read |= set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z0-9_]+)"', path.read_text()))
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Configure") : readme.index("## Scale out")]

    assert len(read) > 50, "the settings are read with env(...): the pattern above must still find them"
    assert sorted(name for name in read if f"`{name}`" not in table) == []
