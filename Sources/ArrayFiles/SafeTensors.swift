import Crypto
import Foundation

public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case truncated(path: String, expectedBytes: Int, foundBytes: Int)
    case badHeader(path: String, reason: String)
    case unsupportedDType(key: String, dtype: String)
    case missingKey(String)
    case unexpectedKeys([String])
    case wrongShape(key: String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "cannot read weights file \(path): \(reason)"
        case let .truncated(path, expected, found):
            return "weights file \(path) is truncated: needs \(expected) bytes, has \(found)"
        case let .badHeader(path, reason): return "weights file \(path) has a bad safetensors header: \(reason)"
        case let .unsupportedDType(key, dtype): return "tensor \(key) has unsupported dtype \(dtype)"
        case let .missingKey(key): return "weights lack tensor \(key)"
        case let .unexpectedKeys(keys):
            let shown = keys.prefix(5).joined(separator: ", ")
            return "weights have \(keys.count) unexpected tensor(s): \(shown)\(keys.count > 5 ? ", …" : "")"
        case let .wrongShape(key, expected, found): return "tensor \(key) has shape \(found), expected \(expected)"
        }
    }
}

/// A safetensors file (8-byte little-endian header length, JSON header, raw little-endian data), memory-mapped;
/// tensors are converted to float32 on request (F32, F16, BF16, F64, I64, U8 are understood). The file's
/// SHA-256 is taken once, here, since every result records which weights made it.
public struct SafeTensorsFile: @unchecked Sendable {
    public struct Entry: Sendable, Equatable {
        public let dtype: String
        public let shape: [Int]
        let begin: Int
        let end: Int
    }

    public let path: String
    public let entries: [String: Entry]
    public let metadata: [String: String]
    /// SHA-256 of the file's bytes, lowercase hex.
    public let sha256: String
    private let data: Data
    private let dataStart: Int

    private static let elementSizes = ["F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "U8": 1]

    public init(contentsOf url: URL) throws {
        path = url.path
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw SafeTensorsError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        guard data.count >= 8 else {
            throw SafeTensorsError.truncated(path: path, expectedBytes: 8, foundBytes: data.count)
        }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(100_000_000) else {
            throw SafeTensorsError.badHeader(path: path, reason: "header length \(headerLength) is implausible")
        }
        dataStart = 8 + Int(headerLength)
        guard data.count >= dataStart else {
            throw SafeTensorsError.truncated(path: path, expectedBytes: dataStart, foundBytes: data.count)
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<dataStart))
        } catch {
            throw SafeTensorsError.badHeader(path: path, reason: "not JSON")
        }
        guard let header = json as? [String: Any] else {
            throw SafeTensorsError.badHeader(path: path, reason: "not a JSON object")
        }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        var needed = 0
        for (key, value) in header {
            if key == "__metadata__" {
                metadata = (value as? [String: String]) ?? [:]
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = (info["shape"] as? [NSNumber])?.map(\.intValue),
                  let offsets = (info["data_offsets"] as? [NSNumber])?.map(\.intValue), offsets.count == 2
            else { throw SafeTensorsError.badHeader(path: path, reason: "entry \(key) lacks dtype, shape or data_offsets") }
            guard let size = Self.elementSizes[dtype] else { throw SafeTensorsError.unsupportedDType(key: key, dtype: dtype) }
            let count = shape.reduce(Optional(1)) { product, dimension in
                guard let product, dimension >= 0 else { return nil }
                let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
                return overflow ? nil : next
            }
            guard let count, offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] - offsets[0] == count * size
            else { throw SafeTensorsError.badHeader(path: path, reason: "entry \(key): data_offsets do not match its shape") }
            entries[key] = Entry(dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
            needed = max(needed, offsets[1])
        }
        guard data.count >= dataStart + needed else {
            throw SafeTensorsError.truncated(path: path, expectedBytes: dataStart + needed, foundBytes: data.count)
        }
        self.entries = entries
        self.metadata = metadata
        sha256 = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    public var keys: [String] { entries.keys.sorted() }

    /// The values of tensor `key` as float32; with `shape`, a mismatch is an error.
    public func floats(_ key: String, shape expected: [Int]? = nil) throws -> [Float] {
        guard let entry = entries[key] else { throw SafeTensorsError.missingKey(key) }
        if let expected, expected != entry.shape {
            throw SafeTensorsError.wrongShape(key: key, expected: expected, found: entry.shape)
        }
        let count = entry.shape.reduce(1, *)
        var values = [Float](repeating: 0, count: count)
        data.withUnsafeBytes { raw in
            let bytes = UnsafeRawBufferPointer(rebasing: raw[(dataStart + entry.begin)..<(dataStart + entry.end)])
            values.withUnsafeMutableBufferPointer { out in
                switch entry.dtype {
                case "F32":
                    // Little-endian hosts (x86-64, arm64): the bytes are the floats.
                    UnsafeMutableRawBufferPointer(out).copyMemory(from: bytes)
                case "F16":
                    for i in 0..<count { out[i] = Float(Float16(bitPattern: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian)) }
                case "BF16":
                    for i in 0..<count { out[i] = Float(bitPattern: UInt32(bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) << 16) }
                case "F64":
                    for i in 0..<count { out[i] = Float(Double(bitPattern: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self).littleEndian)) }
                case "U8":
                    for i in 0..<count { out[i] = Float(bytes[i]) }
                default:  // I64, checked at load
                    for i in 0..<count { out[i] = Float(Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
                }
            }
        }
        return values
    }
}

/// Writes float32 tensors as a safetensors file (keys sorted, as the Python library does).
public enum SafeTensorsWriter {
    public static func write(_ tensors: [String: (shape: [Int], values: [Float])], metadata: [String: String] = [:], to url: URL) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let keys = tensors.keys.sorted()
        for key in keys {
            let tensor = tensors[key]!
            header[key] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + 4 * tensor.values.count]]
            offset += 4 * tensor.values.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // The data section starts 8-byte aligned, padded with spaces as the format allows.
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for key in keys {
            tensors[key]!.values.withUnsafeBytes { out.append(contentsOf: $0) }  // little-endian host
        }
        do {
            try out.write(to: url, options: .atomic)
        } catch {
            throw SafeTensorsError.unreadable(path: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}
