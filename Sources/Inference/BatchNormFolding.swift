extension BatchNorm {
    /// The weights [outChannels, …] and bias of the convolution this norm follows, with the norm folded in:
    /// w·scale, b·scale + shift.
    func folded(intoWeight weight: [Float], bias: [Float]?, outChannels: Int) throws -> (weight: [Float], bias: [Float]) {
        guard channels == outChannels else {
            throw InferenceError.shapeMismatch(what: "folded batch norm", expected: [outChannels], found: [channels])
        }
        let perOutput = weight.count / outChannels
        var newWeight = weight
        var newBias = [Float](repeating: 0, count: outChannels)
        for o in 0..<outChannels {
            let s = scale[o]
            for i in 0..<perOutput { newWeight[o * perOutput + i] *= s }
            newBias[o] = (bias?[o] ?? 0) * s + shift[o]
        }
        return (newWeight, newBias)
    }
}
