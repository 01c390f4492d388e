#!/usr/bin/env python3
"""Writes the conformance suite's method and property descriptors (a C header) from the spec.

Usage: gen-methods.py SPEC_JSON OUTPUT_H

Each method gets a descriptor list of its fields: the spec's name and type, and where librabbitmq
keeps the field (offsetof into its amqp_<class>_<method>_t, member name = spec name with '-' as
'_'). A _Static_assert checks each member's size against the spec type, so a spec/librabbitmq
disagreement fails the build instead of the comparison. A method librabbitmq does not define (its
AMQP_<CLASS>_<METHOD>_METHOD macro is missing) gets a local struct and is marked in_librabbitmq 0;
the suite then checks it against its own descriptor-driven reference codec.
"""
import json
import sys

C_TYPES = {
    "octet": "uint8_t", "short": "uint16_t", "long": "uint32_t", "longlong": "uint64_t",
    "timestamp": "uint64_t", "bit": "amqp_boolean_t", "shortstr": "amqp_bytes_t",
    "longstr": "amqp_bytes_t", "table": "amqp_table_t",
}


def kind_of(domains, arg):
    kind = arg.get("type") or domains[arg["domain"]]
    while kind in domains and domains[kind] != kind:
        kind = domains[kind]
    return kind


def c_name(name):
    return name.replace("-", "_")


def main():
    spec_path, output = sys.argv[1], sys.argv[2]
    with open(spec_path, encoding="utf-8") as f:
        data = json.load(f)
    domains = {name: kind for name, kind in data["domains"]}
    out = []
    w = out.append
    w("/* Generated at build time by Tests/Conformance/gen-methods.py from amqp-rabbitmq-0.9.1.json. */")
    w("#ifndef CONFORMANCE_METHODS_H")
    w("#define CONFORMANCE_METHODS_H")
    w("")
    entries = []
    for cls in data["classes"]:
        for method in cls["methods"]:
            base = "%s_%s" % (c_name(cls["name"]), c_name(method["name"]))
            macro = "AMQP_%s_METHOD" % base.upper()
            ctype = "conf_%s_t" % base
            args = method["arguments"]
            w("#ifdef %s" % macro)
            w("typedef amqp_%s_t %s;" % (base, ctype))
            w("#define CONF_%s_LIB 1" % base.upper())
            w("#else")
            if args:
                w("typedef struct { %s } %s;" % (" ".join("%s %s;" % (C_TYPES[kind_of(domains, a)], c_name(a["name"])) for a in args), ctype))
            else:
                w("typedef struct { char dummy; } %s;" % ctype)
            w("#define CONF_%s_LIB 0" % base.upper())
            w("#endif")
            if args:
                w("static const struct field_desc conf_%s_fields[] = {" % base)
                for a in args:
                    kind = kind_of(domains, a)
                    member = c_name(a["name"])
                    w("    {\"%s\", K_%s, offsetof(%s, %s)}," % (a["name"], kind.upper(), ctype, member))
                    w("#define CONF_SIZE_CHECK_%s_%s _Static_assert(sizeof(((%s *)0)->%s) == sizeof(%s), \"%s.%s %s: librabbitmq's member differs from the spec type %s\");"
                      % (base, member, ctype, member, C_TYPES[kind], cls["name"], method["name"], a["name"], kind))
                w("};")
                for a in args:
                    w("CONF_SIZE_CHECK_%s_%s" % (base, c_name(a["name"])))
                fields = "conf_%s_fields" % base
            else:
                fields = "NULL"
            entries.append('    {"%s", "%s", %d, %d, CONF_%s_LIB, sizeof(%s), %s, %d},'
                           % (cls["name"], method["name"], cls["id"], method["id"], base.upper(), ctype, fields, len(args)))
            w("")
    w("static const struct method_desc conf_methods[] = {")
    out.extend(entries)
    w("};")
    w("#define CONF_METHOD_COUNT %d" % len(entries))
    w("")
    basic = next(c for c in data["classes"] if c["name"] == "basic")
    w("static const struct property_desc conf_properties[] = {")
    for i, p in enumerate(basic["properties"]):
        kind = kind_of(domains, p)
        member = c_name(p["name"])
        w("    {\"%s\", K_%s, offsetof(amqp_basic_properties_t, %s), AMQP_BASIC_%s_FLAG, %d},"
          % (p["name"], kind.upper(), member, member.upper(), 1 << (15 - i)))
    w("};")
    for p in basic["properties"]:
        kind = kind_of(domains, p)
        member = c_name(p["name"])
        w("_Static_assert(sizeof(((amqp_basic_properties_t *)0)->%s) == sizeof(%s), \"property %s\");" % (member, C_TYPES[kind], p["name"]))
    w("#define CONF_PROPERTY_COUNT %d" % len(basic["properties"]))
    w("")
    w("#endif")
    with open(output, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
