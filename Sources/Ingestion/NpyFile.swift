import Foundation

/// Element types the series arrays use, with their NumPy dtype descriptors (little endian).
public protocol NpyElement: Sendable {
    static var npyDescriptor: String { get }
}
extension Float: NpyElement { public static var npyDescriptor: String { "<f4" } }
extension UInt8: NpyElement { public static var npyDescriptor: String { "|u1" } }

public enum NpyError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(path: String, reason: String)

    public var description: String {
        switch self {
        case .malformed(let path, let reason): "\(path): not a usable .npy file: \(reason)"
        }
    }
}

/// NumPy `.npy` format 1.0, C order, little endian, 3-D: the series arrays of the on-disk contract.
/// (Local until the Imaging library's .npy I/O lands; then this gives way to it.)
public enum NpyFile {
    public static func write<T: NpyElement>(_ volume: SeriesVolume<T>, to url: URL) throws {
        let shape = volume.shape.map(String.init).joined(separator: ", ")
        var header = "{'descr': '\(T.npyDescriptor)', 'fortran_order': False, 'shape': (\(shape)), }"
        // Magic (6) + version (2) + header length (2) + header + '\n' must be a multiple of 64.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        data.append(contentsOf: [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        data.append(contentsOf: Array(header.utf8))
        volume.values.withUnsafeBytes { data.append(contentsOf: $0) }  // x86-64 and arm64 are little endian
        try data.write(to: url, options: .atomic)
    }

    public static func read<T: NpyElement>(_ type: T.Type, from url: URL) throws -> SeriesVolume<T> {
        let data = try Data(contentsOf: url)
        let fail = { (reason: String) in NpyError.malformed(path: url.path, reason: reason) }
        guard data.count >= 10, data.prefix(6) == Data([0x93] + Array("NUMPY".utf8)), data[data.startIndex + 6] == 1
        else { throw fail("no NumPy 1.0 magic") }
        let headerLength = Int(data[data.startIndex + 8]) | Int(data[data.startIndex + 9]) << 8
        guard data.count >= 10 + headerLength else { throw fail("header runs past the end") }
        let header = String(decoding: data[(data.startIndex + 10)..<(data.startIndex + 10 + headerLength)], as: UTF8.self)
        guard header.contains("'descr': '\(T.npyDescriptor)'") else { throw fail("dtype is not \(T.npyDescriptor)") }
        guard header.contains("'fortran_order': False") else { throw fail("not C order") }
        guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")")
        else { throw fail("no shape") }
        let shape = header[open.upperBound..<close].split(separator: ",").compactMap {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        guard shape.count == 3 else { throw fail("shape is not 3-D") }
        let count = shape.reduce(1, *)
        let payload = data.dropFirst(10 + headerLength)
        guard payload.count == count * MemoryLayout<T>.size else { throw fail("payload size disagrees with shape") }
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            _ = payload.copyBytes(to: buffer)
            initialized = count
        }
        return SeriesVolume(slices: shape[0], rows: shape[1], columns: shape[2], values: values)
    }
}
