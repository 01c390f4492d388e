import Foundation

/// The `shared` folder beside the repository (spec and vectors), found from this file's path.
func sharedDirectory() -> String {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<4 { url.deleteLastPathComponent() } // Support.swift, AMQPWireTests, Tests, repo
    return url.appendingPathComponent("shared").path
}

func repositoryDirectory() -> String {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}

func readFile(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { [UInt8]($0) }
}

import AMQPWire

/// The typed entries of rabbitmq-c's table vector (its JSON description) as a FieldTable.
func vectorTable(_ json: [UInt8]) throws -> FieldTable {
    guard let root = try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any],
          let entries = root["entries"] as? [[Any]] else { throw VectorError.malformed }
    return try table(entries)
}

enum VectorError: Error { case malformed }

private func table(_ entries: [[Any]]) throws -> FieldTable {
    FieldTable(try entries.map { entry in
        guard entry.count == 3, let key = entry[0] as? String, let tag = entry[1] as? String else { throw VectorError.malformed }
        return FieldTable.Entry(key: Bytes(key), value: try value(tag, entry[2]))
    })
}

private func value(_ tag: String, _ raw: Any) throws -> FieldValue {
    func int() throws -> Int64 { guard let n = raw as? NSNumber else { throw VectorError.malformed }; return n.int64Value }
    func hexBits() throws -> UInt64 {
        guard let d = raw as? [String: Any], let hex = d["ieee754_hex"] as? String, let bits = UInt64(hex, radix: 16) else { throw VectorError.malformed }
        return bits
    }
    switch tag {
    case "S": guard let s = raw as? String else { throw VectorError.malformed }; return .longString(Bytes(s))
    case "I": return .int32(Int32(try int()))
    case "b": return .int8(Int8(try int()))
    case "s": return .int16(Int16(try int()))
    case "l": return .int64(try int())
    case "T": return .timestamp(UInt64(try int()))
    case "t": return .bool((raw as? Bool) ?? false)
    case "V": return .void
    case "D":
        guard let d = raw as? [String: Any], let scale = d["scale"] as? NSNumber, let v = d["value"] as? NSNumber else { throw VectorError.malformed }
        return .decimal(scale: scale.uint8Value, value: v.uint32Value)
    case "x":
        guard let d = raw as? [String: Any], let hex = d["hex"] as? String else { throw VectorError.malformed }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { throw VectorError.malformed }
            bytes.append(byte)
            index = next
        }
        return .byteArray(Bytes(bytes))
    case "f": return .float(Float(bitPattern: UInt32(try hexBits())))
    case "d": return .double(Double(bitPattern: try hexBits()))
    case "F": guard let e = raw as? [[Any]] else { throw VectorError.malformed }; return .table(try table(e))
    case "A":
        guard let items = raw as? [[Any]] else { throw VectorError.malformed }
        return .array(try items.map { item in
            guard item.count == 2, let t = item[0] as? String else { throw VectorError.malformed }
            return try value(t, item[1])
        })
    default: throw VectorError.malformed
    }
}
