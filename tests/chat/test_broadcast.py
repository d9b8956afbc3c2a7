"""chat/broadcast.py is the one door to the channel layer, and its group names
are valid for every layer."""

import ast
import re
from pathlib import Path

import pytest
from channels.layers import InMemoryChannelLayer
from django.conf import settings

from chat import broadcast

BASE_DIR = Path(settings.BASE_DIR)
BROADCAST_MODULE = BASE_DIR / "chat" / "broadcast.py"
# Channels accepts group names of ASCII alphanumerics, hyphens, underscores and
# periods, shorter than 100 characters.
GROUP_NAME = re.compile(r"[A-Za-z0-9._-]{1,99}")


def own_code_dirs() -> list[Path]:
    """project/ plus every app directory (one with an apps.py) at the top level,
    so a new app is covered without editing this test."""
    dirs = {BASE_DIR / "project"}
    for apps_py in BASE_DIR.glob("*/apps.py"):
        dirs.add(apps_py.parent)
    return sorted(d for d in dirs if d.name not in {".venv", "tests"})


def own_python_files() -> list[Path]:
    files = []
    for directory in own_code_dirs():
        for path in directory.rglob("*.py"):
            relative = path.relative_to(BASE_DIR).parts
            if "migrations" in relative or ".venv" in relative:
                continue
            files.append(path)
    return sorted(files)


def group_send_uses(path: Path) -> list[int]:
    """Line numbers where the file names group_send: as an attribute
    (`layer.group_send`), a bare name, an import, or a string (getattr)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if (
            (isinstance(node, ast.Attribute) and node.attr == "group_send")
            or (isinstance(node, ast.Name) and node.id == "group_send")
            or (isinstance(node, ast.Constant) and node.value == "group_send")
        ):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            lines.extend(
                node.lineno
                for alias in node.names
                if alias.name.rsplit(".", 1)[-1] == "group_send"
            )
    return lines


def test_only_the_broadcast_module_calls_group_send():
    offenders = {
        str(path.relative_to(BASE_DIR)): lines
        for path in own_python_files()
        if path != BROADCAST_MODULE and (lines := group_send_uses(path))
    }

    assert offenders == {}, (
        f"Send live events through chat/broadcast.py, not group_send: {offenders}"
    )


def test_group_send_scan_covers_every_app_and_sees_the_broadcast_module():
    # Guards the test above against passing because it looked nowhere.
    scanned = {path.relative_to(BASE_DIR).parts[0] for path in own_python_files()}
    assert {"accounts", "chat", "communities", "presence", "project"} <= scanned
    assert BROADCAST_MODULE in own_python_files()
    assert group_send_uses(BROADCAST_MODULE)


def test_group_send_scan_catches_every_spelling(tmp_path):
    source = tmp_path / "sneaky.py"
    source.write_text(
        "from channels.layers import get_channel_layer\n"
        "async def a(layer):\n"
        "    await layer.group_send('g', {})\n"
        "def b():\n"
        "    return getattr(get_channel_layer(), 'group_send')\n"
        "from somewhere import group_send\n"
    )

    assert sorted(group_send_uses(source)) == [3, 5, 6]


def assert_valid_group_name(name: str) -> None:
    assert GROUP_NAME.fullmatch(name), name
    # And the layer itself agrees (raises TypeError otherwise).
    InMemoryChannelLayer().require_valid_group_name(name)


@pytest.mark.parametrize("member_id", [1, 42, 2**63 - 1])
def test_user_group_is_a_valid_group_name(member_id):
    name = broadcast.user_group(member_id)

    assert_valid_group_name(name)
    assert name == f"user.{member_id}"


def test_user_groups_of_different_members_differ():
    assert broadcast.user_group(1) != broadcast.user_group(11)
