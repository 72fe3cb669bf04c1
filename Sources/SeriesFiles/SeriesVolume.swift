/// S slices of H×W values in one contiguous slice-major, row-major buffer (the layout of a C-order (S,H,W) array).
public struct SeriesVolume<Element: Sendable>: Sendable {
    public let slices: Int
    public let rows: Int
    public let columns: Int
    public var values: [Element]

    public init(slices: Int, rows: Int, columns: Int, values: [Element]) {
        precondition(values.count == slices * rows * columns, "volume shape and value count disagree")
        self.slices = slices
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    public var shape: [Int] { [slices, rows, columns] }
    public var sliceValueCount: Int { rows * columns }

    /// The sub-volume [slices) × [rows) × [columns).
    public func cropped(slices s: Range<Int>, rows r: Range<Int>, columns c: Range<Int>) -> SeriesVolume<Element> {
        if s.count == slices && r.count == rows && c.count == columns { return self }
        var out = [Element]()
        out.reserveCapacity(s.count * r.count * c.count)
        values.withUnsafeBufferPointer { all in
            for slice in s {
                for row in r {
                    let start = (slice * rows + row) * columns
                    out.append(contentsOf: all[(start + c.lowerBound)..<(start + c.upperBound)])
                }
            }
        }
        return SeriesVolume(slices: s.count, rows: r.count, columns: c.count, values: out)
    }
}
