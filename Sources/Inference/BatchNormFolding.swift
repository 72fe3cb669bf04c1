extension BatchNorm {
    /// The weights [outChannels, …] and bias of the convolution this norm follows, with the norm folded in:
    /// w·scale, b·scale + shift.
    func folded(intoWeight weight: [Float], bias: [Float]?, outChannels: Int) throws -> (weight: [Float], bias: [Float]) {
        try checkFolds(into: outChannels)
        var newWeight = weight
        scaleRows(of: &newWeight)
        return (newWeight, folded(bias: bias))
    }

    func checkFolds(into outChannels: Int) throws {
        guard channels == outChannels else {
            throw InferenceError.shapeMismatch(what: "folded batch norm", expected: [outChannels], found: [channels])
        }
    }

    /// Row o of `weight` [channels, …] (output channel o's weights) times scale[o], in place.
    func scaleRows(of weight: inout [Float]) {
        let perOutput = weight.count / channels
        for o in 0..<channels {
            let s = scale[o]
            for i in 0..<perOutput { weight[o * perOutput + i] *= s }
        }
    }

    /// b·scale + shift (a missing bias is zero).
    func folded(bias: [Float]?) -> [Float] {
        (0..<channels).map { o in (bias?[o] ?? 0) * scale[o] + shift[o] }
    }
}
