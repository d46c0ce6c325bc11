"""Grafana's substitutions in InfluxQL panel queries, so a dashboard's queries can be run without Grafana (the
tests run every panel against influxd; ``kinetic dashboards query`` prints or runs them).

Follows Grafana's documented variables: ``$timeFilter`` -> ``time >= <from>ms and time <= <to>ms``,
``$__interval``, ``${__from}`` / ``${__to}`` (epoch ms), and template variables as ``$name``, ``${name}`` or
``${name:raw}``. A value used inside a regex (``/^$wearer$/``) is regex-escaped, as Grafana does for InfluxDB.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_VAR = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)")
_REGEX_SPECIAL = re.compile(r"([\\/^$.|?*+()\[\]{}])")


class UnknownVariable(ValueError):
    pass


def interpolate(query: str, *, start_ms: int, end_ms: int, variables: Mapping[str, str], interval: str = "1m") -> str:
    """``query`` with Grafana's globals and ``variables`` substituted; ``end_ms`` is inclusive, as in Grafana."""
    values = {
        "timeFilter": f"time >= {start_ms}ms and time <= {end_ms}ms",
        "__interval": interval,
        "__from": str(start_ms),
        "__to": str(end_ms),
    }

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        fmt = match.group(2)
        if name in values:
            return values[name]
        if name not in variables:
            raise UnknownVariable(f"query uses ${name}, which has no value: {query}")
        value = variables[name]
        in_regex = _inside_regex(query, match.start())
        return value if fmt == "raw" or not in_regex else _REGEX_SPECIAL.sub(r"\\\1", value)

    return _VAR.sub(substitute, query)


def _inside_regex(query: str, at: int) -> bool:
    """True when position ``at`` sits between the slashes of an InfluxQL regex literal (``=~ /.../``)."""
    opened = query.rfind("=~ /", 0, at)
    return opened != -1 and query.find("/", opened + 4) >= at
