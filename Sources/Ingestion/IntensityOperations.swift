import SeriesFiles

// The ingest-specific computations (docs/ARCHITECTURE.md, "Ingest"): empty-slice drop, series min-max normalisation to 0–255,
// its uint8 truncation, and Borovec's projection crop.

/// T4E's `check_empty`: a slice is kept when more than `minimumFraction` of its pixels are > 0.
public func isNonEmptySlice(_ pixels: some Collection<Float>, minimumFraction: Double = 0.1) -> Bool {
    var positive = 0
    for value in pixels where value > 0 { positive += 1 }
    return Double(positive) > minimumFraction * Double(pixels.count)
}

extension IntensityRange {
    /// The range over every value of every slice; nil when there are no values (or only NaN).
    public init?<Slice: Collection<Float>>(of slices: [Slice]) {
        var low = Float.infinity, high = -Float.infinity
        for slice in slices {
            for value in slice {
                low = value < low ? value : low
                high = value > high ? value : high
            }
        }
        guard low <= high else { return nil }
        self.init(min: low, max: high)
    }
}

/// Stacks `slices` (each rows×columns) into one volume mapped by `(v − min) / (max − min) · 255`, in Float.
/// A constant series (max == min) maps to all zeros rather than dividing by zero.
public func normalisedVolume<Slice: Collection<Float>>(slices: [Slice], rows: Int, columns: Int,
                                                       range: IntensityRange) -> SeriesVolume<Float> {
    let span = range.max - range.min
    let count = slices.count * rows * columns
    let values = [Float](unsafeUninitializedCapacity: count) { out, initialized in
        var offset = 0
        for slice in slices {
            // NumPy's order of operations ((v − min) / span, then · 255), so results agree to the last bits.
            for value in slice.prefix(count - offset) {
                out[offset] = span > 0 ? (value - range.min) / span * 255 : 0
                offset += 1
            }
        }
        if offset < count { out.baseAddress.map { ($0 + offset).initialize(repeating: 0, count: count - offset) } }
        initialized = count
    }
    return SeriesVolume(slices: slices.count, rows: rows, columns: columns, values: values)
}

/// NumPy's `astype(np.uint8)` of values in [0, 255]: truncation toward zero.
public func truncatedToUInt8(_ volume: SeriesVolume<Float>) -> SeriesVolume<UInt8> {
    let values = [UInt8](unsafeUninitializedCapacity: volume.values.count) { out, initialized in
        volume.values.withUnsafeBufferPointer { input in
            for i in input.indices {
                let value = input[i]
                // Out-of-range and NaN inputs saturate instead of trapping.
                out[i] = value >= 255 ? 255 : (value > 0 ? UInt8(value) : 0)
            }
        }
        initialized = volume.values.count
    }
    return SeriesVolume(slices: volume.slices, rows: volume.rows, columns: volume.columns, values: values)
}

/// Borovec's projection crop, computed.
extension ProjectionCrop {
    public init(of volume: SeriesVolume<Float>, threshold: Double) {
        var slice = [Double](repeating: 0, count: volume.slices)
        var row = [Double](repeating: 0, count: volume.rows)
        var column = [Double](repeating: 0, count: volume.columns)
        volume.values.withUnsafeBufferPointer { values in
            for s in 0..<volume.slices {
                for r in 0..<volume.rows {
                    let start = (s * volume.rows + r) * volume.columns
                    var rowTotal = 0.0
                    for c in 0..<volume.columns {
                        let value = Double(values[start + c])
                        rowTotal += value
                        column[c] += value
                    }
                    row[r] += rowTotal
                    slice[s] += rowTotal
                }
            }
        }
        let count = Double(volume.values.count)
        func kept(_ sums: [Double]) -> ClosedOpen {
            let high = sums.map { $0 / count >= threshold }
            guard let first = high.firstIndex(of: true), let last = high.lastIndex(of: true) else {
                return ClosedOpen(0..<sums.count)
            }
            return ClosedOpen(first..<(last + 1))
        }
        self.init(threshold: threshold, slices: kept(slice), rows: kept(row), columns: kept(column), applied: [])
    }
}
