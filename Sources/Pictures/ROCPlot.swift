import Evaluation

/// ROC curves on unit axes: grid lines every 0.25, the chance diagonal dashed, one coloured curve per group.
/// The picture carries no text; `legend` names each curve's colour for the page or terminal beside it.
public struct ROCPlot: Sendable {
    public static let palette: [RGBImage.Color] = [
        .init(20, 20, 20), .init(0, 114, 178), .init(213, 94, 0), .init(0, 158, 115), .init(204, 121, 167),
        .init(230, 159, 0), .init(86, 180, 233),
    ]
    public static let size = 420
    public static let margin = 24

    public struct Curve: Sendable {
        public let name: String
        public let points: [BinaryEvaluation.ROCPoint]
        public init(name: String, points: [BinaryEvaluation.ROCPoint]) { (self.name, self.points) = (name, points) }
    }

    public let curves: [Curve]
    public init(curves: [Curve]) { self.curves = curves }

    /// Each curve's name with its colour as `#rrggbb`, in drawing order.
    public var legend: [(name: String, color: String)] {
        curves.enumerated().map { i, curve in
            let c = Self.palette[i % Self.palette.count]
            return (curve.name, "#" + [c.r, c.g, c.b].map { byte in
                let hex = String(byte, radix: 16)
                return hex.count == 1 ? "0" + hex : hex
            }.joined())
        }
    }

    public func render() -> RGBImage {
        var picture = RGBImage(width: Self.size, height: Self.size, fill: .gray(255))
        let side = Self.size - 2 * Self.margin
        func pixel(_ fpr: Double, _ tpr: Double) -> (x: Int, y: Int) {
            (Self.margin + Int((fpr * Double(side)).rounded()), Self.margin + side - Int((tpr * Double(side)).rounded()))
        }
        for quarter in 1...3 {
            let t = Double(quarter) / 4
            picture.line(from: pixel(t, 0), to: pixel(t, 1), .gray(225))
            picture.line(from: pixel(0, t), to: pixel(1, t), .gray(225))
        }
        picture.line(from: pixel(0, 0), to: pixel(1, 1), dash: 4, .gray(150))
        picture.strokeRect(x: Self.margin, y: Self.margin, width: side + 1, height: side + 1, thickness: 1, .gray(60))
        for (i, curve) in curves.enumerated() {
            let color = Self.palette[i % Self.palette.count]
            for (a, b) in zip(curve.points, curve.points.dropFirst()) {
                picture.line(from: pixel(a.falsePositiveRate, a.truePositiveRate),
                             to: pixel(b.falsePositiveRate, b.truePositiveRate), thickness: 2, color)
            }
        }
        return picture
    }
}
