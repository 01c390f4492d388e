"""Field-table conversion (no broker needed)."""

import ctypes
import datetime
import decimal

import pytest

from swiftamqp import _ffi, _table
from swiftamqp._ffi import swamqp_field_value, swamqp_table_entry


def entries_of(ctable):
    t = ctable.table
    return (swamqp_table_entry * t.count).from_address(t.entries)


def kinds(mapping):
    ctable = _table.encode_table(mapping)  # must outlive the entries read from it
    return {_table.read_bytes(e.key).decode(): chr(e.value.kind) for e in entries_of(ctable)}


def roundtrip(mapping):
    ctable = _table.encode_table(mapping)
    return _table.decode_table(ctable.table)


def test_kinds_chosen():
    utc = datetime.timezone.utc
    assert kinds({
        "bool": True, "small": 5, "neg": -(1 << 31), "i32max": (1 << 31) - 1, "i32over": 1 << 31,
        "i64min": -(1 << 63), "float": 1.5, "str": "x", "bytes": b"x", "bytearray": bytearray(b"x"),
        "list": [1], "tuple": (1,), "dict": {}, "none": None, "dec": decimal.Decimal("1.5"),
        "ts": datetime.datetime(2020, 1, 1, tzinfo=utc),
    }) == {
        "bool": "t", "small": "I", "neg": "I", "i32max": "I", "i32over": "l", "i64min": "l",
        "float": "d", "str": "S", "bytes": "x", "bytearray": "x", "list": "A", "tuple": "A",
        "dict": "F", "none": "V", "dec": "D", "ts": "T",
    }


def test_roundtrip_all_types():
    utc = datetime.timezone.utc
    value = {
        "t": True, "f": False, "i": -7, "l": 1 << 40, "d": 2.25, "s": "héllo wörld", "e": "",
        "x": b"\x00\xff\x01", "ex": b"", "a": [1, "two", None, [3.5, b"4"], {"k": "v"}], "ea": [],
        "F": {"nested": {"deeper": 1}}, "eF": {}, "V": None,
        "D": decimal.Decimal("123.45"), "D0": decimal.Decimal("7"), "Dexp": decimal.Decimal("5E+2"),
        "T": datetime.datetime(2021, 6, 7, 8, 9, 10, tzinfo=utc),
    }
    got = roundtrip(value)
    expected = dict(value)
    expected["Dexp"] = decimal.Decimal(500)
    assert got == expected
    assert list(got) == list(value)  # order kept
    assert isinstance(got["t"], bool) and isinstance(got["x"], bytes) and isinstance(got["s"], str)
    assert got["T"].tzinfo is not None


def test_empty_and_none_tables():
    assert _table.encode_table(None).table.count == 0
    assert _table.encode_table({}).table.entries is None
    assert roundtrip({}) == {}


def test_decimal_parts():
    ctable = _table.encode_table({"d": decimal.Decimal("-0.00"), "e": decimal.Decimal("1.50")})
    e = entries_of(ctable)
    assert (e[0].value.value.decimal.scale, e[0].value.value.decimal.value) == (2, 0)
    assert (e[1].value.value.decimal.scale, e[1].value.value.decimal.value) == (2, 150)
    assert roundtrip({"e": decimal.Decimal("1.50")})["e"].as_tuple() == decimal.Decimal("1.50").as_tuple()


@pytest.mark.parametrize("bad", [decimal.Decimal("-1.5"), decimal.Decimal("NaN"),
                                 decimal.Decimal("Infinity"), decimal.Decimal(1 << 32),
                                 decimal.Decimal("1E-300")])
def test_decimal_out_of_range(bad):
    with pytest.raises(ValueError):
        _table.encode_table({"d": bad})


def test_naive_datetime_is_local_time_in_seconds():
    naive = datetime.datetime(2022, 3, 4, 5, 6, 7, 890000)
    ctable = _table.encode_table({"t": naive})
    e = entries_of(ctable)
    assert e[0].value.value.u64 == int(naive.timestamp())


def test_errors():
    with pytest.raises(ValueError):
        _table.encode_table({"big": 1 << 63})
    with pytest.raises(ValueError):
        _table.encode_table({"k" * 129: 1})
    _table.encode_table({"k" * 128: 1})
    with pytest.raises(TypeError):
        _table.encode_table({1: "non-str key"})
    with pytest.raises(TypeError):
        _table.encode_table({"set": {1, 2}})
    with pytest.raises(TypeError):
        _table.encode_table(["not", "a", "dict"])
    with pytest.raises(ValueError):
        _table.encode_table({"t": datetime.datetime(1960, 1, 1, tzinfo=datetime.timezone.utc)})


def test_memory_is_kept_alive():
    ctable = _table.encode_table({"s": "x" * 1000, "a": ["y" * 100], "F": {"z": b"z" * 50}})
    import gc
    gc.collect()
    assert _table.decode_table(ctable.table) == {"s": "x" * 1000, "a": ["y" * 100], "F": {"z": b"z" * 50}}


def _value(kind, member, v):
    fv = swamqp_field_value()
    fv.kind = ord(kind)
    setattr(fv.value, member, v)
    return fv


def test_decode_every_kind_the_library_can_hand_out():
    assert _table.decode_value(_value("b", "i8", -5)) == -5
    assert _table.decode_value(_value("B", "u8", 250)) == 250
    assert _table.decode_value(_value("s", "i16", -30000)) == -30000
    assert _table.decode_value(_value("u", "u16", 65000)) == 65000
    assert _table.decode_value(_value("I", "i32", -2)) == -2
    assert _table.decode_value(_value("i", "u32", 4000000000)) == 4000000000
    assert _table.decode_value(_value("l", "i64", -(1 << 62))) == -(1 << 62)
    assert _table.decode_value(_value("L", "u64", (1 << 64) - 1)) == (1 << 64) - 1
    assert _table.decode_value(_value("f", "f32", 0.5)) == 0.5
    assert _table.decode_value(_value("d", "f64", 0.25)) == 0.25
    assert _table.decode_value(_value("t", "boolean", True)) is True
    assert _table.decode_value(_value("V", "u64", 0)) is None
    assert _table.decode_value(_value("T", "u64", 0)) == datetime.datetime(
        1970, 1, 1, tzinfo=datetime.timezone.utc)
    dec = swamqp_field_value()
    dec.kind = ord("D")
    dec.value.decimal.scale = 3
    dec.value.decimal.value = 12345
    assert _table.decode_value(dec) == decimal.Decimal("12.345")
    unknown = _value("Z", "u64", 0)
    with pytest.raises(ValueError):
        _table.decode_value(unknown)


def test_invalid_utf8_long_string_decodes_to_bytes():
    raw = b"\xff\xfe"
    buf = ctypes.create_string_buffer(raw, len(raw))
    fv = swamqp_field_value()
    fv.kind = _ffi.SWAMQP_FIELD_STRING
    fv.value.bytes.bytes = ctypes.addressof(buf)
    fv.value.bytes.len = len(raw)
    assert _table.decode_value(fv) == raw
