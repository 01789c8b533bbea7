"""The toolkit of validation: collect every problem, each naming key, value and expectation.

Each helper of :class:`Problems` records what is wrong and returns a usable default, so
that one pass over the document reports every problem at once: the person reading them
is fixing a file at 3 a.m. with no other documentation at hand.
"""

from __future__ import annotations

from drptools.config.model import LINE_BREAKS, NAME_CHARACTERS
from drptools.config.schema import BOOLEAN, INTEGER, PATH, STRING, STRINGS, Key

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class Problems(list[str]):
    """Collects problems; the helpers return a usable default after recording one."""

    def table(self, parent: dict[str, object], key: str, where: str) -> dict[str, object]:
        value = parent.get(key, {})
        if not isinstance(value, dict):
            self.append(f"{where}: expected a table ([{where}]), found {_kind(value)}")
            return {}
        return value

    def unknown(self, table: dict[str, object], known: tuple[str, ...], where: str) -> None:
        for key in table:
            if key not in known:
                self.append(f"{_join(where, key)}: unknown key (known here: {', '.join(known)})")

    def string(
        self, table: dict[str, object], key: str, where: str, required: bool = False
    ) -> str | None:
        if key not in table:
            if required:
                self.append(f"{_join(where, key)}: missing (expected a string)")
            return None
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            self.append(f"{_join(where, key)}: expected a non-empty string, found {_shown(value)}")
            return None
        return value

    def name(self, value: str, where: str) -> bool:
        if value and set(value) <= NAME_CHARACTERS and not value.startswith("."):
            return True
        self.append(
            f"{where}: {value!r} is not a usable name (letters, digits, '.', '-', '_'; "
            "not starting with '.'): it names directories and status files"
        )
        return False

    def integer(
        self,
        table: dict[str, object],
        key: str,
        where: str,
        default: int,
        minimum: int,
        maximum: int,
    ) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.append(f"{_join(where, key)}: expected an integer, found {_shown(value)}")
            return default
        if not minimum <= value <= maximum:
            self.append(
                f"{_join(where, key)}: {value} is out of range (expected {minimum} to {maximum})"
            )
            return default
        return value

    def path(self, table: dict[str, object], key: str, where: str) -> str | None:
        value = self.string(table, key, where)
        complaint = absolute(value) if value is not None else None
        if complaint:
            self.append(f"{_join(where, key)}: {complaint}")
            return None
        return value

    def boolean(self, table: dict[str, object], key: str, where: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.append(f"{_join(where, key)}: expected true or false, found {_shown(value)}")
            return default
        return value

    def strings(
        self,
        table: dict[str, object],
        key: str,
        where: str,
        check: Callable[[str], str | None] | None = None,
    ) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list):
            self.append(f"{_join(where, key)}: expected a list of strings, found {_shown(value)}")
            return ()
        good: list[str] = []
        for index, item in enumerate(value):
            label = f"{_join(where, key)}[{index}]"
            if not isinstance(item, str) or not item or set(item) & LINE_BREAKS:
                self.append(f"{label}: expected a non-empty one-line string, found {_shown(item)}")
                continue
            complaint = check(item) if check else None
            if complaint:
                self.append(f"{label}: {complaint}")
            elif item in good:
                self.append(f"{label}: {item!r} is listed twice")
            else:
                good.append(item)
        return tuple(good)

    def field(
        self,
        table: dict[str, object],
        where: str,
        key: Key,
        check: Callable[[str], str | None] | None = None,
    ) -> Any:
        """The value of a key declared in :mod:`drptools.config.schema`, checked by its type.

        An absent key is its declared default (a required one is also a problem).
        """
        name = key.name
        if key.kind == INTEGER:
            if name not in table:
                return key.default
            default = key.default if isinstance(key.default, int) else 0
            value: object = self.integer(table, name, where, default, key.minimum, key.maximum)
        elif key.kind == STRING:
            value = self.string(table, name, where, key.required)
            value = key.default if value is None else value
        elif key.kind == PATH:
            value = self.path(table, name, where)
        elif key.kind == BOOLEAN:
            value = self.boolean(table, name, where, bool(key.default))
        elif key.kind == STRINGS:
            value = self.strings(table, name, where, check)
        else:
            value = self.table(table, name, where or name)
        return value


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _kind(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names |= {list: "a list", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def _shown(value: object) -> str:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return f"{_kind(value)} {value!r}"
    if isinstance(value, bool):
        return f"a boolean {str(value).lower()}"
    return _kind(value)


def absolute(path: str) -> str | None:
    if not path.startswith("/"):
        return f"{path!r} is not an absolute path"
    return None
