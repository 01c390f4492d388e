"""The JSON spec as the generators read it (Spec: each field's kind through the domains) and the
Swift names made from the spec's names (camel, ident, bare), and default values as Swift (literal)."""

import json

ESCAPE = {"internal"}


def camel(name, upper=False):
    parts = name.replace("_", "-").split("-")
    text = "".join(p[:1].upper() + p[1:] for p in parts)
    return text if upper else text[:1].lower() + text[1:]


def ident(name):
    n = camel(name)
    return "`%s`" % n if n in ESCAPE else n


def bare(name):
    """An argument label: Swift takes keywords there, so unlike ident it is never escaped."""
    return camel(name)


def literal(kind, value):
    """A field's default value as Swift source."""
    if kind == "bit":
        return "true" if value else "false"
    if kind in ("shortstr", "longstr"):
        return "Bytes(%s)" % json.dumps(value)
    if kind == "table":
        return "FieldTable()"
    return str(value)


class Spec:
    def __init__(self, data):
        self.domains = {name: kind for name, kind in data["domains"]}
        self.data = data

    def kind(self, arg):
        kind = arg.get("type") or self.domains[arg["domain"]]
        while kind in self.domains and self.domains[kind] != kind:
            kind = self.domains[kind]
        return kind
