/// Why bytes could not be decoded or a value could not be encoded. Every malformed input maps to
/// one of these; the codec never traps.
public enum WireError: Error, Equatable, Sendable {
    /// The input ended `needed` bytes short while reading `context`.
    case truncated(context: String)
    /// A frame did not end with 0xCE.
    case badFrameEnd(found: UInt8)
    /// A frame announced a payload larger than the negotiated frame_max allows.
    case frameTooLarge(size: UInt32, frameMax: UInt32)
    case unknownFrameType(UInt8)
    case unknownMethod(classID: UInt16, methodID: UInt16)
    /// A field table or array held a type tag outside the accepted set.
    case unknownFieldType(UInt8)
    /// Tables or arrays nested deeper than `FieldTable.maxDepth`.
    case nestingTooDeep
    /// A method or header frame had bytes left over after its last field.
    case trailingBytes(context: String, count: Int)
    /// A content header that is not for class basic, or that sets unknown property flags.
    case invalidContentHeader(String)
    /// A short string longer than 255 bytes (encoding), or another value AMQP cannot carry.
    case valueTooLarge(context: String)
    /// Memory for `size` bytes could not be had.
    case allocationFailed(size: Int)
    /// A method's arguments given as field values (`Method(classID:methodID:fields:)`) that do not
    /// match the spec: a missing, extra or wrongly typed value, named by `context`.
    case wrongField(context: String)
}

extension WireError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .truncated(let context): return "truncated input while reading \(context)"
        case .badFrameEnd(let found): return "frame end octet is \(found), expected 206"
        case .frameTooLarge(let size, let frameMax):
            // frame_max counts the whole frame: the 7-byte header and the end octet too.
            return "frame with a \(size)-byte payload (\(UInt64(size) + 8) bytes in all) exceeds frame_max \(frameMax)"
        case .unknownFrameType(let type): return "unknown frame type \(type)"
        case .unknownMethod(let classID, let methodID): return "unknown method \(classID).\(methodID)"
        case .unknownFieldType(let tag): return "unknown field table type tag \(tag)"
        case .nestingTooDeep: return "field tables nested deeper than \(FieldTable.maxDepth)"
        case .trailingBytes(let context, let count): return "\(count) unexpected bytes after \(context)"
        case .invalidContentHeader(let why): return "invalid content header: \(why)"
        case .valueTooLarge(let context): return "value too large for \(context)"
        case .allocationFailed(let size): return "could not allocate \(size) bytes"
        case .wrongField(let context): return "method arguments: \(context)"
        }
    }
}
