import Foundation

/// Errors from building a recurrent layer out of loaded weights.
public enum RecurrentLayerError: Error, CustomStringConvertible, Equatable {
    case weightCount(name: String, expected: Int, actual: Int)
    case inputWidth(expected: Int, actual: Int)
    case rowOutOfRange(row: Int, rows: Int)

    public var description: String {
        switch self {
        case let .weightCount(name, expected, actual):
            return "LSTM weight \(name): expected \(expected) values, got \(actual)"
        case let .inputWidth(expected, actual):
            return "LSTM input: expected rows of \(expected) values, got \(actual)"
        case let .rowOutOfRange(row, rows):
            return "LSTM sequence refers to input row \(row) of \(rows)"
        }
    }
}

/// One direction of a PyTorch `nn.LSTM` layer: gate order (input, forget, cell, output), both biases.
public struct LSTMDirectionWeights: Sendable {
    /// (4·hidden × input), row major, as PyTorch's `weight_ih_l0`.
    public let inputWeights: [Float]
    /// (4·hidden × hidden), row major, as PyTorch's `weight_hh_l0`.
    public let hiddenWeights: [Float]
    /// `bias_ih_l0 + bias_hh_l0`: the two biases only ever appear summed.
    public let bias: [Float]

    public init(inputWeights: [Float], hiddenWeights: [Float], inputBias: [Float], hiddenBias: [Float],
                inputSize: Int, hiddenSize: Int) throws {
        let gates = 4 * hiddenSize
        for (name, values, count) in [("weight_ih", inputWeights, gates * inputSize),
                                      ("weight_hh", hiddenWeights, gates * hiddenSize),
                                      ("bias_ih", inputBias, gates), ("bias_hh", hiddenBias, gates)]
        where values.count != count {
            throw RecurrentLayerError.weightCount(name: name, expected: count, actual: values.count)
        }
        self.inputWeights = inputWeights
        self.hiddenWeights = hiddenWeights
        self.bias = zip(inputBias, hiddenBias).map { $0 + $1 }
    }
}

/// A single-layer bidirectional, batch-first LSTM (PyTorch `nn.LSTM(bidirectional=True)`), split in two so the
/// input projection (the only expensive part) can be computed once per input row and shared by every sequence
/// that contains that row.
public struct BidirectionalLSTM: Sendable {
    public let inputSize: Int
    public let hiddenSize: Int
    public let forward: LSTMDirectionWeights
    public let reverse: LSTMDirectionWeights

    public init(inputSize: Int, hiddenSize: Int, forward: LSTMDirectionWeights, reverse: LSTMDirectionWeights) {
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.forward = forward
        self.reverse = reverse
    }

    /// The input projections `W_ih·x + b_ih + b_hh` of both directions for `rows` inputs: one GEMM per direction.
    /// Layout: row r holds 4·hidden forward gates, then 4·hidden reverse gates.
    public func project(inputs: [Float], rows: Int) throws -> LSTMProjections {
        guard rows >= 0, inputs.count == rows * inputSize else {
            throw RecurrentLayerError.inputWidth(expected: inputSize, actual: rows == 0 ? inputs.count : inputs.count / max(rows, 1))
        }
        let gates = 4 * hiddenSize
        let width = 2 * gates
        var out = [Float](repeating: 0, count: rows * width)
        guard rows > 0 else { return LSTMProjections(values: out, rows: 0, width: width) }
        out.withUnsafeMutableBufferPointer { o in
            for (offset, direction) in [(0, forward), (gates, reverse)] {
                let base = o.baseAddress! + offset
                for r in 0..<rows { (base + r * width).update(from: direction.bias, count: gates) }
                inputs.withUnsafeBufferPointer { x in
                    direction.inputWeights.withUnsafeBufferPointer { w in
                        BLAS.sgemm(transposeB: true, m: rows, n: gates, k: inputSize, a: x.baseAddress!, lda: inputSize,
                                   b: w.baseAddress!, ldb: inputSize, beta: 1, c: base, ldc: width)
                    }
                }
            }
        }
        return LSTMProjections(values: out, rows: rows, width: width)
    }

    /// The layer's output for the sequence made of the given projection rows, in order: (steps × 2·hidden),
    /// each step's forward hidden state followed by its reverse hidden state, zero initial states.
    public func run(_ projections: LSTMProjections, sequence: [Int]) throws -> [Float] {
        for row in sequence where !(0..<projections.rows).contains(row) {
            throw RecurrentLayerError.rowOutOfRange(row: row, rows: projections.rows)
        }
        let hidden = hiddenSize
        var output = [Float](repeating: 0, count: sequence.count * 2 * hidden)
        let gateCount = 4 * hidden
        var gates = [Float](repeating: 0, count: gateCount)
        var h = [Float](repeating: 0, count: hidden)
        var c = [Float](repeating: 0, count: hidden)
        for (directionIndex, direction) in [forward, reverse].enumerated() {
            for i in 0..<hidden { h[i] = 0; c[i] = 0 }
            let steps: [Int] = directionIndex == 0 ? Array(sequence.indices) : sequence.indices.reversed()
            for t in steps {
                let rowStart = sequence[t] * projections.width + directionIndex * gateCount
                for g in 0..<gateCount { gates[g] = projections.values[rowStart + g] }
                direction.hiddenWeights.withUnsafeBufferPointer { w in
                    h.withUnsafeBufferPointer { state in
                        gates.withUnsafeMutableBufferPointer { g in
                            BLAS.sgemm(m: gateCount, n: 1, k: hidden, a: w.baseAddress!, lda: hidden,
                                       b: state.baseAddress!, ldb: 1, beta: 1, c: g.baseAddress!, ldc: 1)
                        }
                    }
                }
                let outStart = t * 2 * hidden + directionIndex * hidden
                for j in 0..<hidden {
                    let inputGate = VectorMath.sigmoid(gates[j])
                    let forgetGate = VectorMath.sigmoid(gates[hidden + j])
                    let cellCandidate = tanhf(gates[2 * hidden + j])
                    let outputGate = VectorMath.sigmoid(gates[3 * hidden + j])
                    c[j] = forgetGate * c[j] + inputGate * cellCandidate
                    h[j] = outputGate * tanhf(c[j])
                    output[outStart + j] = h[j]
                }
            }
        }
        return output
    }
}

/// Input projections of an LSTM for a set of input rows (see `BidirectionalLSTM.project`).
public struct LSTMProjections: Sendable {
    public let values: [Float]
    public let rows: Int
    public let width: Int
}

extension BidirectionalLSTM {
    /// PyTorch's `nn.LSTM(bidirectional=True)` parameters under `prefix`: weight_ih_l0, weight_hh_l0, bias_ih_l0,
    /// bias_hh_l0, and the same with `_reverse`.
    public static func load(_ prefix: String, from source: WeightSource, inputSize: Int, hiddenSize: Int) throws -> BidirectionalLSTM {
        let gates = 4 * hiddenSize
        func direction(_ suffix: String) throws -> LSTMDirectionWeights {
            try LSTMDirectionWeights(
                inputWeights: source.tensor("\(prefix).weight_ih_l0\(suffix)", shape: [gates, inputSize]).storage,
                hiddenWeights: source.tensor("\(prefix).weight_hh_l0\(suffix)", shape: [gates, hiddenSize]).storage,
                inputBias: source.tensor("\(prefix).bias_ih_l0\(suffix)", shape: [gates]).storage,
                hiddenBias: source.tensor("\(prefix).bias_hh_l0\(suffix)", shape: [gates]).storage,
                inputSize: inputSize, hiddenSize: hiddenSize)
        }
        return BidirectionalLSTM(inputSize: inputSize, hiddenSize: hiddenSize, forward: try direction(""), reverse: try direction("_reverse"))
    }
}
