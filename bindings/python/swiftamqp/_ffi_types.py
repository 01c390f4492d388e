"""The constants and structs of libswiftamqp's C API (include/swiftamqp.h) as ctypes: status
codes, enum values, flags, every struct of the header, the event callback type, and the options
struct's buffer. _ffi re-exports all of it (``_ffi.SWAMQP_OK``, ``_ffi.swamqp_event``).

Everything here mirrors the header one to one; tests/test_ffi.py checks every value and layout
against it.
"""

import ctypes
from ctypes import (
    CFUNCTYPE, POINTER, Structure, Union, c_bool, c_char, c_char_p, c_double, c_float, c_int,
    c_int8, c_int16, c_int32, c_int64, c_size_t, c_uint8, c_uint16, c_uint32, c_uint64, c_void_p,
)

# --------------------------------------------------------------------------------------------
# Status codes
# --------------------------------------------------------------------------------------------
SWAMQP_OK = 0
SWAMQP_ERR_INVALID_ARGUMENT = -100
SWAMQP_ERR_INVALID_HANDLE = -101
SWAMQP_ERR_NO_MEMORY = -102
SWAMQP_ERR_IN_CALLBACK = -103
SWAMQP_ERR_FORKED = -104
SWAMQP_ERR_BAD_STATE = -105
SWAMQP_ERR_CHANNEL_LIMIT = -106
SWAMQP_ERR_NOT_CONFIRM_MODE = -107
SWAMQP_ERR_STALE_DELIVERY_TAG = -108
SWAMQP_ERR_TIMEOUT = -200
SWAMQP_ERR_WOULD_BLOCK = -201
SWAMQP_ERR_RESOLVE = -300
SWAMQP_ERR_CONNECT = -301
SWAMQP_ERR_IO = -302
SWAMQP_ERR_CONNECTION_LOST = -303
SWAMQP_ERR_HEARTBEAT_TIMEOUT = -304
SWAMQP_ERR_TLS = -305
SWAMQP_ERR_RECOVERING = -306
SWAMQP_ERR_PROTOCOL = -400
SWAMQP_ERR_FRAME_TOO_LARGE = -401
SWAMQP_ERR_MESSAGE_TOO_LARGE = -402
SWAMQP_ERR_UNEXPECTED_FRAME = -403
SWAMQP_ERR_AUTH = -404
SWAMQP_ERR_NACKED = -405
SWAMQP_ERR_CHANNEL_CLOSED = -500
SWAMQP_ERR_CONNECTION_CLOSED = -501
SWAMQP_ERR_CLOSED_BY_APPLICATION = -502

STATUS_NAMES = {
    value: name for name, value in globals().items()
    if name.startswith("SWAMQP_ERR_") or name == "SWAMQP_OK"
}

# swamqp_error_origin
SWAMQP_ORIGIN_NONE = 0
SWAMQP_ORIGIN_LIBRARY = 1
SWAMQP_ORIGIN_BROKER = 2

# swamqp_auth_mechanism
SWAMQP_AUTH_AUTO = 0
SWAMQP_AUTH_PLAIN = 1
SWAMQP_AUTH_AMQPLAIN = 2
SWAMQP_AUTH_EXTERNAL = 3

# swamqp_field_kind (the AMQP wire tag)
SWAMQP_FIELD_BOOL = ord('t')
SWAMQP_FIELD_I8 = ord('b')
SWAMQP_FIELD_U8 = ord('B')
SWAMQP_FIELD_I16 = ord('s')
SWAMQP_FIELD_U16 = ord('u')
SWAMQP_FIELD_I32 = ord('I')
SWAMQP_FIELD_U32 = ord('i')
SWAMQP_FIELD_I64 = ord('l')
SWAMQP_FIELD_U64 = ord('L')
SWAMQP_FIELD_F32 = ord('f')
SWAMQP_FIELD_F64 = ord('d')
SWAMQP_FIELD_DECIMAL = ord('D')
SWAMQP_FIELD_STRING = ord('S')
SWAMQP_FIELD_BYTES = ord('x')
SWAMQP_FIELD_ARRAY = ord('A')
SWAMQP_FIELD_TIMESTAMP = ord('T')
SWAMQP_FIELD_TABLE = ord('F')
SWAMQP_FIELD_VOID = ord('V')

# swamqp_properties.flags
SWAMQP_PROP_CONTENT_TYPE = 1 << 0
SWAMQP_PROP_CONTENT_ENCODING = 1 << 1
SWAMQP_PROP_HEADERS = 1 << 2
SWAMQP_PROP_DELIVERY_MODE = 1 << 3
SWAMQP_PROP_PRIORITY = 1 << 4
SWAMQP_PROP_CORRELATION_ID = 1 << 5
SWAMQP_PROP_REPLY_TO = 1 << 6
SWAMQP_PROP_EXPIRATION = 1 << 7
SWAMQP_PROP_MESSAGE_ID = 1 << 8
SWAMQP_PROP_TIMESTAMP = 1 << 9
SWAMQP_PROP_TYPE = 1 << 10
SWAMQP_PROP_USER_ID = 1 << 11
SWAMQP_PROP_APP_ID = 1 << 12
SWAMQP_PROP_CLUSTER_ID = 1 << 13

# swamqp_event_type
SWAMQP_EVENT_NONE = 0
SWAMQP_EVENT_COMPLETION = 1
SWAMQP_EVENT_DELIVERY = 2
SWAMQP_EVENT_RETURN = 3
SWAMQP_EVENT_CONFIRM_ACK = 4
SWAMQP_EVENT_CONFIRM_NACK = 5
SWAMQP_EVENT_CHANNEL_CLOSED = 6
SWAMQP_EVENT_CONNECTION_CLOSED = 7
SWAMQP_EVENT_BLOCKED = 8
SWAMQP_EVENT_UNBLOCKED = 9
SWAMQP_EVENT_CONSUMER_CANCELLED = 10
SWAMQP_EVENT_LOG = 11
SWAMQP_EVENT_FLOW = 12
SWAMQP_EVENT_RAW_FRAME = 13
SWAMQP_EVENT_RECOVERY_STARTED = 14
SWAMQP_EVENT_RECOVERY_ENTITY_FAILED = 15
SWAMQP_EVENT_RECOVERED = 16
SWAMQP_EVENT_RECOVERY_FAILED = 17
SWAMQP_EVENT_QUEUE_RENAMED = 18
SWAMQP_EVENT_LATE_GET_MESSAGE = 19

# swamqp_log_level
SWAMQP_LOG_ERROR = 1
SWAMQP_LOG_WARNING = 2
SWAMQP_LOG_INFO = 3
SWAMQP_LOG_DEBUG = 4

# swamqp_event.flags
SWAMQP_EVENT_FLAG_MULTIPLE = 1 << 0
SWAMQP_EVENT_FLAG_ACTIVE = 1 << 1
SWAMQP_EVENT_FLAG_EMPTY = 1 << 2

# Request flags
SWAMQP_PASSIVE = 1 << 0
SWAMQP_DURABLE = 1 << 1
SWAMQP_AUTO_DELETE = 1 << 2
SWAMQP_INTERNAL = 1 << 3
SWAMQP_EXCLUSIVE = 1 << 4
SWAMQP_NOWAIT = 1 << 5
SWAMQP_IF_UNUSED = 1 << 6
SWAMQP_IF_EMPTY = 1 << 7
SWAMQP_NO_LOCAL = 1 << 8
SWAMQP_NO_ACK = 1 << 9
SWAMQP_MANDATORY = 1 << 10
SWAMQP_IMMEDIATE = 1 << 11
SWAMQP_MULTIPLE = 1 << 12
SWAMQP_REQUEUE = 1 << 13
SWAMQP_GLOBAL = 1 << 14


# --------------------------------------------------------------------------------------------
# Structs (ctypes applies the platform's C layout rules, so padding matches the header)
# --------------------------------------------------------------------------------------------
class swamqp_error(Structure):
    _fields_ = [
        ("status", c_int32),
        ("origin", c_int32),
        ("reply_code", c_uint16),
        ("class_id", c_uint16),
        ("method_id", c_uint16),
        ("channel", c_uint16),
        ("message", c_char * 512),
    ]


class swamqp_bytes(Structure):
    _fields_ = [
        ("bytes", c_void_p),
        ("len", c_size_t),
    ]


class swamqp_table(Structure):
    _fields_ = [
        ("count", c_size_t),
        ("entries", c_void_p),  # const swamqp_table_entry *
    ]


class swamqp_array(Structure):
    _fields_ = [
        ("count", c_size_t),
        ("values", c_void_p),  # const swamqp_field_value *
    ]


class swamqp_decimal(Structure):
    _fields_ = [
        ("scale", c_uint8),
        ("value", c_uint32),
    ]


class _swamqp_field_union(Union):
    _fields_ = [
        ("boolean", c_bool),
        ("i8", c_int8),
        ("u8", c_uint8),
        ("i16", c_int16),
        ("u16", c_uint16),
        ("i32", c_int32),
        ("u32", c_uint32),
        ("i64", c_int64),
        ("u64", c_uint64),
        ("f32", c_float),
        ("f64", c_double),
        ("decimal", swamqp_decimal),
        ("bytes", swamqp_bytes),
        ("array", swamqp_array),
        ("table", swamqp_table),
    ]


class swamqp_field_value(Structure):
    _fields_ = [
        ("kind", c_uint8),
        ("value", _swamqp_field_union),
    ]


class swamqp_table_entry(Structure):
    _fields_ = [
        ("key", swamqp_bytes),
        ("value", swamqp_field_value),
    ]


class swamqp_properties(Structure):
    _fields_ = [
        ("flags", c_uint32),
        ("content_type", swamqp_bytes),
        ("content_encoding", swamqp_bytes),
        ("headers", swamqp_table),
        ("delivery_mode", c_uint8),
        ("priority", c_uint8),
        ("correlation_id", swamqp_bytes),
        ("reply_to", swamqp_bytes),
        ("expiration", swamqp_bytes),
        ("message_id", swamqp_bytes),
        ("timestamp", c_uint64),
        ("type", swamqp_bytes),
        ("user_id", swamqp_bytes),
        ("app_id", swamqp_bytes),
        ("cluster_id", swamqp_bytes),
    ]


class swamqp_message(Structure):
    _fields_ = [
        ("channel", c_uint16),
        ("redelivered", c_bool),
        ("delivery_tag", c_uint64),
        ("consumer_tag", swamqp_bytes),
        ("exchange", swamqp_bytes),
        ("routing_key", swamqp_bytes),
        ("message_count", c_uint32),
        ("reply_code", c_uint16),
        ("reply_text", swamqp_bytes),
        ("properties", swamqp_properties),
        ("body", swamqp_bytes),
    ]


class swamqp_endpoint(Structure):
    _fields_ = [
        ("host", c_char_p),
        ("port", c_uint16),
    ]


class swamqp_connection_options(Structure):
    _fields_ = [
        ("host", c_char_p),
        ("port", c_uint16),
        ("vhost", c_char_p),
        ("user", c_char_p),
        ("password", c_char_p),
        ("heartbeat", c_uint16),
        ("frame_max", c_uint32),
        ("channel_max", c_uint16),
        ("connect_timeout_ms", c_uint32),
        ("connection_name", c_char_p),
        ("max_message_size", c_uint64),
        ("event_queue_limit", c_uint64),
        ("outbound_limit", c_uint64),
        ("auth_mechanism", c_int),
        ("max_unconfirmed", c_uint32),
        ("socket_fd", c_int),
        ("automatic_recovery", c_bool),
        ("recovery_initial_delay_ms", c_uint32),
        ("recovery_max_delay_ms", c_uint32),
        ("recovery_max_attempts", c_uint32),
        ("endpoints", c_void_p),  # const swamqp_endpoint *
        ("endpoint_count", c_size_t),
        ("tls", c_bool),
        ("tls_ca_file", c_char_p),
        ("tls_ca_dir", c_char_p),
        ("tls_ca_certificates", c_void_p),  # const swamqp_bytes *
        ("tls_ca_certificate_count", c_size_t),
        ("tls_cert_file", c_char_p),
        ("tls_key_file", c_char_p),
        ("tls_key_password", c_char_p),
        ("tls_server_name", c_char_p),
        ("tls_ciphers", c_char_p),
        ("tls_insecure_skip_verify", c_bool),
        ("tls_insecure_skip_hostname_check", c_bool),
    ]


class swamqp_event(Structure):
    _fields_ = [
        ("type", c_int32),
        ("status", c_int32),
        ("channel", c_uint16),
        ("flags", c_uint32),
        ("request_id", c_uint64),
        ("delivery_tag", c_uint64),
        ("message_count", c_uint32),
        ("consumer_count", c_uint32),
        ("log_level", c_int32),
        ("name", swamqp_bytes),
        ("message", c_void_p),  # const swamqp_message *
        ("error", c_void_p),    # const swamqp_error *
        ("frame_type", c_uint8),
        ("class_id", c_uint16),
        ("method_id", c_uint16),
        ("payload", swamqp_bytes),
    ]


class swamqp_queue_declare_ok(Structure):
    _fields_ = [
        ("name", c_char * 256),
        ("name_len", c_size_t),
        ("message_count", c_uint32),
        ("consumer_count", c_uint32),
    ]


class swamqp_name(Structure):
    _fields_ = [
        ("name", c_char * 256),
        ("len", c_size_t),
    ]


class swamqp_stats(Structure):
    _fields_ = [
        ("frames_in", c_uint64),
        ("frames_out", c_uint64),
        ("bytes_in", c_uint64),
        ("bytes_out", c_uint64),
        ("publishes", c_uint64),
        ("confirms_acked", c_uint64),
        ("confirms_nacked", c_uint64),
        ("deliveries", c_uint64),
        ("returns", c_uint64),
        ("heartbeats_in", c_uint64),
        ("heartbeats_out", c_uint64),
        ("events_queued_bytes", c_uint64),
    ]


#: void (*swamqp_event_callback)(swamqp_connection *, const swamqp_event *, void *user_data)
swamqp_event_callback = CFUNCTYPE(None, c_void_p, POINTER(swamqp_event), c_void_p)


_OPTIONS_RESERVE = 4096


def new_connection_options():
    """A zeroed swamqp_connection_options inside a buffer of at least 4 KiB, so that a library
    built from a newer header, whose options struct is larger, never writes past our memory in
    swamqp_connection_options_init or swamqp_parse_url (its fields would still be misread: keep
    this file in step with the header; tests/test_ffi.py checks it against the compiler)."""
    size = max(ctypes.sizeof(swamqp_connection_options), _OPTIONS_RESERVE)
    buffer = ctypes.create_string_buffer(size)
    return swamqp_connection_options.from_buffer(buffer)

