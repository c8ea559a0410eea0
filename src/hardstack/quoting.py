"""Render filters: free text (names, commands, paths) escaped for the file it lands in, never refused
for its characters. The template uses them as Jinja filters (template_ext.py); the answers model
pre-quotes the environment values it hands to compose.yaml and stack.yaml with yaml_str."""

from __future__ import annotations

import json
import shlex


# Free text (names, commands) is escaped for the file it lands in, never refused for its characters.
def yaml_str(value) -> str:
    """A YAML scalar that reads back as exactly this string (JSON's double-quoted form is valid YAML)."""
    return json.dumps(str(value), ensure_ascii=False)


def docker_str(value) -> str:
    """A double-quoted Dockerfile string (LABEL, ENV): backslash, quote and $ escaped."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{text}"'


def sh_quote(value) -> str:
    return shlex.quote(str(value))


def markdown(value) -> str:
    """Text shown as text in Markdown: HTML and Markdown's inline markers escaped."""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join("\\" + ch if ch in "\\`*_[]|" else ch for ch in text)
