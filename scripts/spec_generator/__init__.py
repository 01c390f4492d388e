"""The parts of scripts/generate-spec, which puts scripts/ on sys.path to import them: spec (the
JSON spec's domains and the Swift names of its classes, methods and fields), amqp_spec
(Sources/AMQPWire/Generated/AMQPSpec.swift) with fast_writer (the one-growth encoders of methods
whose fields all have a bounded size), method_fields (MethodFields.swift), method_json (the
swamqp-frame tool's MethodJSON.swift) and compat_layouts (compat_layouts.h of the librabbitmq
drop-in)."""
