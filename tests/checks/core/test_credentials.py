"""Credentials files: the format, and refusal of files group or others can read."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.core.credentials import parse_credentials, read_credentials
from checks.core.errors import CannotCheck


def secret(tmp_path: Path, text: str, mode: int = 0o600) -> str:
    path = tmp_path / "login.cred"
    path.write_text(text)
    path.chmod(mode)
    return str(path)


def test_username_and_password_as_written_after_the_first_equals(tmp_path: Path) -> None:
    found = read_credentials(secret(tmp_path, "# monitor\nuser = mon\npassword = a=b # c \n"))
    assert (found.username, found.password) == ("mon", "a=b # c")


def test_the_password_never_shows_in_its_repr() -> None:
    assert "s3cret" not in repr(parse_credentials("password = s3cret", "f"))


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_file_group_or_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    with pytest.raises(CannotCheck, match=f"mode {mode:04o}.*chmod 600"):
        read_credentials(secret(tmp_path, "password = x", mode))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no username or password"),
        ("s3cret\n", "line 1: expected"),
        ("username = a\ntoken = s3cret\n", "line 2: expected"),
    ],
)
def test_malformed_files_name_the_line_never_its_content(text: str, message: str) -> None:
    with pytest.raises(CannotCheck, match=message) as caught:
        parse_credentials(text, "f")
    assert "s3cret" not in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CannotCheck, match="No such file"):
        read_credentials(str(tmp_path / "absent"))
