import Foundation
import SeriesFiles

/// What ordering a series needs from each of its slices (never its file name).
public struct SlicePlacement: Sendable, Equatable {
    public var instanceNumber: Int?
    /// Index of the frame within its file (0 for single-frame files).
    public var frame: Int
    public var isMultiFrame: Bool
    /// ImagePositionPatient (mm) and ImageOrientationPatient (row then column direction cosines).
    public var position: [Double]?
    public var orientation: [Double]?

    public init(instanceNumber: Int?, frame: Int = 0, isMultiFrame: Bool = false, position: [Double]?,
                orientation: [Double]?) {
        self.instanceNumber = instanceNumber
        self.frame = frame
        self.isMultiFrame = isMultiFrame
        self.position = position
        self.orientation = orientation
    }
}

public enum SliceOrderingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// InstanceNumber missing or duplicated and no geometry to fall back on.
    case cannotOrder(String)

    public var description: String {
        switch self {
        case .cannotOrder(let reason): "cannot order slices: \(reason)"
        }
    }
}

/// Orders slices by InstanceNumber (then frame) and checks that order against ImagePositionPatient projected on
/// the slice normal; orders by that projection when instance numbers are missing or duplicated.
/// Returns indices into `slices`, in order.
public func orderSlices(_ slices: [SlicePlacement]) throws(SliceOrderingError) -> (order: [Int], check: OrderCheck) {
    let positions = projectedPositions(slices)
    let numbers = slices.compactMap(\.instanceNumber)
    let keys = slices.map { [$0.instanceNumber ?? 0, $0.frame] }
    let uniqueKeys = Set(keys).count == slices.count
    if numbers.count == slices.count && uniqueKeys {
        let order = slices.indices.sorted { keys[$0].lexicographicallyPrecedes(keys[$1]) }
        var check = checkGeometry(order: order, positions: positions, slices: slices, method: .instanceNumber)
        let skips = instanceNumberSkips(order.map { slices[$0].instanceNumber ?? 0 })
        if !skips.isEmpty {
            if check.status == .consistent || check.status == .unchecked { check.status = .gaps }
            check.detail = ([check.detail].compactMap { $0 } + ["instance numbers skip: " + skips]).joined(separator: "; ")
        }
        return (order, check)
    }
    let reason = numbers.count < slices.count
        ? "InstanceNumber missing on \(slices.count - numbers.count) of \(slices.count) slices"
        : "InstanceNumber duplicated"
    guard let positions else {
        throw .cannotOrder("\(reason), and no ImagePositionPatient/ImageOrientationPatient to order by")
    }
    let order = slices.indices.sorted { positions[$0] < positions[$1] }
    var check = checkGeometry(order: order, positions: positions, slices: slices, method: .geometry)
    check.detail = ([reason] + [check.detail].compactMap { $0 }).joined(separator: "; ")
    return (order, check)
}

/// ImagePositionPatient · (row × column), per slice; nil unless every slice has single-frame geometry with one
/// orientation.
private func projectedPositions(_ slices: [SlicePlacement]) -> [Double]? {
    guard let orientation = slices.first?.orientation, orientation.count == 6,
          slices.allSatisfy({ !$0.isMultiFrame && $0.position?.count == 3 && $0.orientation != nil }),
          slices.allSatisfy({ zip($0.orientation ?? [], orientation).allSatisfy { abs($0 - $1) < 1e-3 } })
    else { return nil }
    let r = orientation[0..<3].map { $0 }, c = orientation[3..<6].map { $0 }
    let normal = [r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0]]
    return slices.map { slice in
        let p = slice.position ?? [0, 0, 0]
        return p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2]
    }
}

private func checkGeometry(order: [Int], positions: [Double]?, slices: [SlicePlacement],
                           method: OrderCheck.Method) -> OrderCheck {
    guard let positions else {
        let why = slices.contains(where: \.isMultiFrame)
            ? "multi-frame files: per-frame positions not read"
            : "no common ImagePositionPatient/ImageOrientationPatient"
        return OrderCheck(method: method, status: .unchecked, spacing: nil, detail: why)
    }
    guard order.count > 1 else { return OrderCheck(method: method, status: .consistent, spacing: nil, detail: nil) }
    let ordered = order.map { positions[$0] }
    let steps = zip(ordered.dropFirst(), ordered).map { $0 - $1 }
    let label = { (i: Int) in slices[order[i]].instanceNumber.map { "instance \($0)" } ?? "slice \(i)" }
    let tolerance = 1e-3
    let direction: Double = steps.reduce(0, +) >= 0 ? 1 : -1
    if let bad = steps.firstIndex(where: { $0 * direction <= tolerance }) {
        let what = abs(steps[bad]) <= tolerance ? "repeats the position of" : "moves back from"
        return OrderCheck(method: method, status: .disagrees, spacing: nil,
                          detail: "ImagePositionPatient: \(label(bad + 1)) \(what) \(label(bad))")
    }
    let magnitudes = steps.map(abs).sorted()
    let median = magnitudes[magnitudes.count / 2]
    if let gap = steps.firstIndex(where: { abs($0) > 1.5 * median }) {
        return OrderCheck(method: method, status: .gaps, spacing: median,
                          detail: "gap of \(millimetres(abs(steps[gap]))) between \(label(gap)) and \(label(gap + 1))"
                              + " (spacing \(millimetres(median)))")
    }
    return OrderCheck(method: method, status: .consistent, spacing: median, detail: nil)
}

/// "5→8, 20→22" for each place where consecutive distinct instance numbers differ by more than 1.
private func instanceNumberSkips(_ ordered: [Int]) -> String {
    let distinct = ordered.reduce(into: [Int]()) { if $0.last != $1 { $0.append($1) } }
    return zip(distinct, distinct.dropFirst()).filter { $1 - $0 > 1 }.map { "\($0)→\($1)" }
        .joined(separator: ", ")
}

private func millimetres(_ value: Double) -> String { String(format: "%.2f mm", value) }
