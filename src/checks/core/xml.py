"""Reading XML that tools print or servers serve (gluster ``--xml``, crm_mon, cibadmin,
Tomcat's manager status), safely.

One place for what every such reading needs: the stdlib's ElementTree (expat; measured
with nagiosplugin and subprocess already loaded, its import costs next to nothing), a
clear ParseError for anything that is not well-formed, and no entity expansion at all.
ElementTree never fetches external entities or DTDs, but expat does expand entities a
document declares itself (the "billion laughs"); neither gluster, Pacemaker nor
Tomcat's status page ever holds a DOCTYPE, so a document that declares one is refused
before expat sees it (:func:`root_of`). :func:`parse_xml` words every failure after the
tool that printed the text; a check with its own wording catches :data:`MalformedXML`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from checks.core.errors import ParseError

Element = ET.Element
#: What :func:`root_of` raises for text that is not well-formed XML (its ``str`` is expat's
#: ``syntax error: line 1, column 0``).
MalformedXML = ET.ParseError


def root_of(text: str, source: str) -> ET.Element:
    """The root element of ``text``, never expanding an entity.

    Raises :class:`ParseError` naming ``source`` for a document declaring a DOCTYPE or
    entities, :data:`MalformedXML` for one that is not well-formed.
    """
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise ParseError(f"{source} printed XML declaring a DOCTYPE or entities: refused")
    return ET.fromstring(text)  # noqa: S314 - no DOCTYPE gets here: nothing expands


def parse_xml(text: str, source: str) -> ET.Element:
    """The root element of ``text``, which ``source`` (``gluster volume info``) printed.

    Raises :class:`ParseError` naming ``source`` when the text is empty, not XML, cut
    short, or declares a DOCTYPE or entities.
    """
    if not text.strip():
        raise ParseError(f"{source} printed nothing")
    try:
        return root_of(text, source)
    except MalformedXML as error:
        first = text.strip().splitlines()[0][:120]
        raise ParseError(f"{source} printed no well-formed XML ({error}): {first}") from None


def child_text(element: ET.Element, tag: str, default: str = "") -> str:
    """The stripped text of ``element``'s first ``tag`` child, or ``default``."""
    found = element.find(tag)
    if found is None or found.text is None:
        return default
    return found.text.strip()


def child_int(element: ET.Element, tag: str) -> int | None:
    """The integer text of ``element``'s ``tag`` child; None when absent or not a number."""
    text = child_text(element, tag)
    digits = text.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 30:
        return None
    return int(text)
