"""Modules imported on first use: a library's eager import of what it seldom calls.

:func:`defer` registers a placeholder module that imports the real one when one of its
attributes is first used (PEP 562), so that a heavy library that imports, say, chardet at
load time pays for it only if it really calls it (see :mod:`checks.storage._pysmart`).
"""

from __future__ import annotations

import sys
import types


def defer(name: str) -> None:
    """Register ``name`` as a module that imports itself when an attribute is first used."""
    if name in sys.modules:
        return
    placeholder = types.ModuleType(name, f"{name}, imported on first use by vigie")

    def load(attribute: str) -> object:
        if sys.modules.get(name) is placeholder:
            del sys.modules[name]
        return getattr(__import__(name), attribute)

    placeholder.__getattr__ = load  # type: ignore[method-assign]
    sys.modules[name] = placeholder
