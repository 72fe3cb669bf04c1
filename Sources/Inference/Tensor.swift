/// A float32 tensor in contiguous row-major memory; 4-D tensors are NCHW.
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var storage: [Float]

    public init(shape: [Int], storage: [Float]) throws {
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == storage.count else {
            throw InferenceError.shapeMismatch(
                what: "tensor storage", expected: shape, found: [storage.count])
        }
        self.shape = shape
        self.storage = storage
    }

    public init(zeros shape: [Int]) {
        self.shape = shape
        self.storage = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    public var count: Int { storage.count }

    /// N, C, H, W of a 4-D tensor.
    public var nchw: (n: Int, c: Int, h: Int, w: Int) {
        precondition(shape.count == 4, "nchw of a \(shape.count)-D tensor")
        return (shape[0], shape[1], shape[2], shape[3])
    }

    /// Same storage, another shape with the same element count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        try Tensor(shape: newShape, storage: storage)
    }
}

extension Tensor {
    init(unchecked shape: [Int], _ storage: [Float]) {
        self.shape = shape
        self.storage = storage
    }
}

public enum InferenceError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(what: String, expected: [Int], found: [Int])
    case invalidParameter(String)

    public var description: String {
        switch self {
        case let .shapeMismatch(what, expected, found):
            return "\(what): expected shape \(expected), found \(found)"
        case let .invalidParameter(message):
            return message
        }
    }
}
