"""The one-growth encoders of AMQPSpec.swift: argumentsSize, writeArguments(to:) and
oversizeError() of a method whose fields all have a bounded size, and the kinds and sizes they
rest on (also used by BasicProperties' fastSize and writeFast)."""

from .spec import ident

# Field kinds of bounded size: a method made only of these is encoded in one buffer growth.
SIMPLE_KINDS = {"octet", "short", "long", "longlong", "timestamp", "bit", "shortstr"}
FIXED_SIZES = {"octet": 1, "short": 2, "long": 4, "longlong": 8, "timestamp": 8}
CURSOR = {"octet": "uint8", "short": "uint16", "long": "uint32", "longlong": "uint64", "timestamp": "uint64"}


def emit_fast_writer(w, spec, args, class_name, method_name, indent):
    """argumentsSize (nil when a short string is too long), writeArguments(to:), oversizeError()."""
    fixed = 0
    strings = []
    bits = 0
    bit_run = 0
    for a in args:
        kind = spec.kind(a)
        if kind == "bit":
            if bit_run == 0 or bit_run == 8:
                bits += 1
                bit_run = 0
            bit_run += 1
            continue
        bit_run = 0
        if kind == "shortstr":
            fixed += 1
            strings.append(a["name"])
        else:
            fixed += FIXED_SIZES[kind]
    fixed += bits
    i = indent
    w(i + "/// The arguments' encoded size; nil when a short string is over 255 bytes.")
    w(i + "@inline(__always) var argumentsSize: Int? {")
    if strings:
        w(i + "    guard %s else { return nil }" % ", ".join("%s.count <= 255" % ident(n) for n in strings))
        w(i + "    return %d + %s" % (fixed, " + ".join("%s.count" % ident(n) for n in strings)))
    else:
        w(i + "    %d" % fixed)
    w(i + "}")
    w("")
    w(i + "/// Writes the arguments; `argumentsSize` bytes must be set aside.")
    w(i + "@inline(__always) func writeArguments(to c: inout ByteCursor) {")
    group = []

    def flush():
        if group:
            w(i + "    do {")
            w(i + "        var bits: UInt8 = 0")
            for k, n in enumerate(group):
                w(i + "        if %s { bits |= %d }" % (ident(n), 1 << k))
            w(i + "        c.uint8(bits)")
            w(i + "    }")
            group.clear()
    for a in args:
        kind = spec.kind(a)
        if kind == "bit":
            if len(group) == 8:
                flush()
            group.append(a["name"])
            continue
        flush()
        if kind == "shortstr":
            w(i + "    c.shortString(%s)" % ident(a["name"]))
        else:
            w(i + "    c.%s(%s)" % (CURSOR[kind], ident(a["name"])))
    flush()
    if not args:
        w(i + "    _ = c")
    w(i + "}")
    w("")
    if strings:
        w(i + "/// The error for the first short string over 255 bytes.")
        w(i + "func oversizeError() -> WireError {")
        for n in strings:
            w(i + "    if %s.count > 255 { return WireError.valueTooLarge(context: \"%s.%s %s\") }" % (ident(n), class_name, method_name, n))
        w(i + "    return WireError.valueTooLarge(context: \"%s.%s\")" % (class_name, method_name))
        w(i + "}")
        w("")
    elif args:
        w(i + "func oversizeError() -> WireError { WireError.valueTooLarge(context: \"%s.%s\") }" % (class_name, method_name))
        w("")
