import Foundation

// NumPy .npy files (format versions 1.0, 2.0 and 3.0 read; 1.0 written, 2.0 when the header needs
// it). C order only. Read dtypes: |u1, <f4, <i2, <u2, <f8; written: |u1, <f4.

/// An n-dimensional array as stored in a .npy file.
public struct NpyArray: Sendable, Equatable {
    public enum Values: Sendable, Equatable {
        case uint8([UInt8])
        case float32([Float])
        case int16([Int16])
        case uint16([UInt16])
        case float64([Double])

        var count: Int {
            switch self {
            case .uint8(let v): return v.count
            case .float32(let v): return v.count
            case .int16(let v): return v.count
            case .uint16(let v): return v.count
            case .float64(let v): return v.count
            }
        }

        /// The dtype as numpy spells it in the header.
        public var descriptor: String {
            switch self {
            case .uint8: return "|u1"
            case .float32: return "<f4"
            case .int16: return "<i2"
            case .uint16: return "<u2"
            case .float64: return "<f8"
            }
        }
    }

    public let shape: [Int]
    public let values: Values

    public init(shape: [Int], values: Values) throws {
        let count = try Self.elementCount(shape)
        guard count == values.count else { throw NpyError.countMismatch(shape: shape, count: values.count) }
        self.shape = shape
        self.values = values
    }

    /// The number of values of `shape`; throws on negative or overflowing dimensions.
    static func elementCount(_ shape: [Int]) throws -> Int {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else { throw NpyError.invalidShape(shape) }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw NpyError.invalidShape(shape) }
            count = product
        }
        return count
    }

    public var float32Values: [Float]? { if case .float32(let v) = values { return v } else { return nil } }
    public var uint8Values: [UInt8]? { if case .uint8(let v) = values { return v } else { return nil } }

    // MARK: Reading

    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw NpyError.unreadable(url.path, String(describing: error)) }
        try self.init(data: data)
    }

    public init(data: Data) throws {
        let bytes = [UInt8](data)
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw NpyError.notNpy }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw NpyError.truncated(expected: 12, actual: bytes.count) }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        default:
            throw NpyError.unsupportedVersion(Int(major), Int(bytes[7]))
        }
        guard bytes.count >= headerStart + headerLength else {
            throw NpyError.truncated(expected: headerStart + headerLength, actual: bytes.count)
        }
        guard let header = String(bytes: bytes[headerStart..<(headerStart + headerLength)],
                                  encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw NpyError.malformedHeader("header is not text")
        }
        let (descriptor, fortranOrder, shape) = try Self.parseHeader(header)
        guard !fortranOrder else { throw NpyError.fortranOrder }
        let count = try Self.elementCount(shape)
        let dataStart = headerStart + headerLength

        func load<T>(_ type: T.Type, _ size: Int) throws -> [T] {
            let (byteCount, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow, bytes.count - dataStart >= byteCount else {
                throw NpyError.truncated(expected: overflow ? Int.max : dataStart + byteCount, actual: bytes.count)
            }
            return [T](unsafeUninitializedCapacity: count) { buffer, initialised in
                bytes.withUnsafeBytes { raw in
                    let source = UnsafeRawBufferPointer(rebasing: raw[dataStart..<(dataStart + byteCount)])
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: source)
                }
                initialised = count
            }
        }
        // Multi-byte values are little endian in the file; this code targets little-endian hosts.
        let values: Values
        switch descriptor {
        case "|u1", "<u1": values = .uint8(try load(UInt8.self, 1))
        case "<f4": values = .float32(try load(Float.self, 4))
        case "<i2": values = .int16(try load(Int16.self, 2))
        case "<u2": values = .uint16(try load(UInt16.self, 2))
        case "<f8": values = .float64(try load(Double.self, 8))
        default: throw NpyError.unsupportedDType(descriptor)
        }
        try self.init(shape: shape, values: values)
    }

    /// Parses NumPy's header dictionary: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
    static func parseHeader(_ header: String) throws -> (String, Bool, [Int]) {
        func value(of key: String) throws -> Substring {
            guard let keyRange = header.range(of: "'\(key)'") else { throw NpyError.malformedHeader("no '\(key)' in \(header)") }
            let rest = header[keyRange.upperBound...].drop { $0 == " " }
            guard rest.first == ":" else { throw NpyError.malformedHeader("no ':' after '\(key)'") }
            return rest.dropFirst().drop { $0 == " " }
        }
        let descrValue = try value(of: "descr")
        guard let quote = descrValue.first, quote == "'" || quote == "\"",
              let end = descrValue.dropFirst().firstIndex(of: quote) else {
            throw NpyError.unsupportedDType(String(descrValue.prefix(20)))
        }
        let descriptor = String(descrValue[descrValue.index(after: descrValue.startIndex)..<end])

        let fortranValue = try value(of: "fortran_order")
        let fortran: Bool
        if fortranValue.hasPrefix("True") { fortran = true } else if fortranValue.hasPrefix("False") { fortran = false } else {
            throw NpyError.malformedHeader("fortran_order is neither True nor False")
        }

        let shapeValue = try value(of: "shape")
        guard shapeValue.first == "(", let close = shapeValue.firstIndex(of: ")") else {
            throw NpyError.malformedHeader("shape is not a tuple")
        }
        var shape: [Int] = []
        for part in shapeValue[shapeValue.index(after: shapeValue.startIndex)..<close].split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "L", with: "")
            if trimmed.isEmpty { continue }
            guard let dimension = Int(trimmed), dimension >= 0 else { throw NpyError.malformedHeader("bad shape entry '\(trimmed)'") }
            shape.append(dimension)
        }
        return (descriptor, fortran, shape)
    }

    // MARK: Writing

    /// The file's bytes: version 1.0 (2.0 if the header exceeds 65535 bytes), header padded with
    /// spaces and a newline so the data starts on a 64-byte boundary, as NumPy writes it.
    public func encoded() throws -> Data {
        let descriptor: String
        switch values {
        case .uint8, .float32: descriptor = values.descriptor
        default: throw NpyError.unsupportedDType("writing \(values.descriptor) is not supported (only |u1 and <f4)")
        }
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descriptor)', 'fortran_order': False, 'shape': \(shapeText), }"
        var version: UInt8 = 1
        var prefixLength = 10
        if (prefixLength + header.utf8.count + 1 + 63) / 64 * 64 - prefixLength > 65535 {
            version = 2
            prefixLength = 12
        }
        let total = (prefixLength + header.utf8.count + 1 + 63) / 64 * 64
        header += String(repeating: " ", count: total - prefixLength - header.utf8.count - 1) + "\n"
        let headerLength = header.utf8.count

        var data = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, version, 0])
        if version == 1 {
            data.append(contentsOf: [UInt8(headerLength & 0xFF), UInt8(headerLength >> 8)])
        } else {
            data.append(contentsOf: (0..<4).map { UInt8((headerLength >> (8 * $0)) & 0xFF) })
        }
        data.append(contentsOf: Array(header.utf8))
        switch values {
        case .uint8(let v): data.append(contentsOf: v)
        case .float32(let v): v.withUnsafeBytes { data.append(contentsOf: $0) }
        default: break
        }
        return data
    }

    /// Writes the file atomically (temporary file, then rename).
    public func write(to url: URL) throws {
        let data = try encoded()
        do { try data.write(to: url, options: .atomic) } catch { throw NpyError.unwritable(url.path, String(describing: error)) }
    }
}

public enum NpyError: Error, CustomStringConvertible, Equatable {
    case notNpy
    case unsupportedVersion(Int, Int)
    case malformedHeader(String)
    case unsupportedDType(String)
    case wrongDType(expected: String, actual: String)
    case fortranOrder
    case truncated(expected: Int, actual: Int)
    case invalidShape([Int])
    case countMismatch(shape: [Int], count: Int)
    case unreadable(String, String)
    case unwritable(String, String)

    public var description: String {
        switch self {
        case .notNpy: return "not a .npy file (missing \\x93NUMPY magic)"
        case let .unsupportedVersion(major, minor): return "unsupported .npy format version \(major).\(minor)"
        case let .malformedHeader(why): return "malformed .npy header: \(why)"
        case let .unsupportedDType(d): return "unsupported .npy dtype \(d) (supported: |u1, <f4, <i2, <u2, <f8)"
        case let .wrongDType(expected, actual): return ".npy array has dtype \(actual), expected \(expected)"
        case .fortranOrder: return ".npy array is in Fortran order; only C order is supported"
        case let .truncated(expected, actual): return ".npy file is truncated: \(actual) bytes, expected \(expected)"
        case let .invalidShape(shape): return "invalid array shape \(shape)"
        case let .countMismatch(shape, count): return "shape \(shape) does not match \(count) values"
        case let .unreadable(path, why): return "cannot read \(path): \(why)"
        case let .unwritable(path, why): return "cannot write \(path): \(why)"
        }
    }
}
