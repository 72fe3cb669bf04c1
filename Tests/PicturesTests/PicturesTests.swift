import Evaluation
import Foundation
import Imaging
import Pictures
import XCTest

final class PicturesTests: XCTestCase {
    /// PNGs written through libpng read back identically with libpng and with Pillow (an independent decoder).
    func testPNGRoundTripAndPillowAgrees() throws {
        var image = RGBImage(width: 37, height: 11, fill: .gray(0))
        var state: UInt32 = 12345
        for y in 0..<11 {
            for x in 0..<37 {
                state = state &* 1_664_525 &+ 1_013_904_223
                image[x, y] = .init(UInt8(truncatingIfNeeded: state >> 24), UInt8(truncatingIfNeeded: state >> 16), UInt8(truncatingIfNeeded: state >> 8))
            }
        }
        let data = try PNG.encode(image)
        XCTAssertEqual(Array(data.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertEqual(try PNG.decode(data), image)
        XCTAssertEqual(try pillowPixels(data), image)
        XCTAssertThrowsError(try PNG.decode(Array(data.prefix(40))))
        XCTAssertThrowsError(try PNG.decode(Array("not a png".utf8)))
    }

    /// The preview's outline pixels lie exactly on the masks' boundaries: green where the whole tumour's boundary
    /// is and the enhancing one's is not, the enhancing colour exactly on the enhancing boundary; kept slices
    /// framed; one bar per chunk with its height.
    func testPreviewOutlinesLieOnMaskBoundaries() throws {
        let (w, h) = (100, 90)
        var slices: [SeriesPreview.Slice] = []
        for index in 0..<7 {
            let radius = Double([0, 8, 14, 20, 16, 9, 0][index])
            func disk(cx: Double, cy: Double, r: Double) throws -> Image<UInt8> {
                var mask = try Image<UInt8>(width: w, height: h)
                for y in 0..<h { for x in 0..<w where (Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy) <= r * r { mask[y, x] = 1 } }
                return mask
            }
            var image = try Image<UInt8>(width: w, height: h)
            for y in 0..<h { for x in 0..<w { image[y, x] = UInt8((x * 2 + y + index * 10) % 200) } }
            slices.append(.init(image: image, wholeTumour: try disk(cx: 45, cy: 40, r: radius),
                                enhancing: try disk(cx: 50, cy: 42, r: radius / 2), kept: (2...4).contains(index)))
        }
        let chunks = [0.2, 0.8]
        let preview = try SeriesPreview(slices: slices, chunkProbabilities: chunks, maxTile: 64)
        let layout = preview.layout
        XCTAssertEqual(layout.step, 2)
        XCTAssertEqual(layout.columns, 3)
        let png = try PNG.encode(preview.render())
        let picture = try pillowPixels(png)
        XCTAssertEqual(picture, try PNG.decode(png))

        var outlinePixels = 0
        for (index, slice) in slices.enumerated() {
            let wt = SeriesPreview.boundary(of: slice.wholeTumour, step: layout.step)
            let et = SeriesPreview.boundary(of: slice.enhancing, step: layout.step)
            let origin = layout.origin(of: index)
            for y in 0..<layout.tileHeight {
                for x in 0..<layout.tileWidth {
                    let i = y * layout.tileWidth + x
                    let color = picture[origin.x + x, origin.y + y]
                    let expected: RGBImage.Color = et[i] ? SeriesPreview.enhancingColor
                        : wt[i] ? SeriesPreview.wholeTumourColor : .gray(slice.image[y * layout.step, x * layout.step])
                    XCTAssertEqual(color, expected, "slice \(index) at \(x),\(y)")
                    if et[i] || wt[i] { outlinePixels += 1 }
                }
            }
            let frameColor = picture[origin.x - 1, origin.y - 1]
            XCTAssertEqual(frameColor == SeriesPreview.keptColor, slice.kept, "slice \(index) frame")
        }
        XCTAssertGreaterThan(outlinePixels, 100)
        // Bars: the first chunk's bar is shorter than the second's, and both are drawn.
        func barHeight(_ chunk: Int) -> Int {
            let barWidth = (layout.width - 2 * SeriesPreview.gutter - 2) / chunks.count
            let x = SeriesPreview.gutter + 1 + chunk * barWidth + barWidth / 2
            return (layout.gridHeight..<picture.height).filter { picture[x, $0] == SeriesPreview.barColor }.count
        }
        let barSpan = Double(SeriesPreview.stripHeight - 10)
        XCTAssertEqual(Double(barHeight(0)), (0.2 * barSpan).rounded(), accuracy: 1.5)
        XCTAssertEqual(Double(barHeight(1)), (0.8 * barSpan).rounded(), accuracy: 1.5)
    }

    func testROCPlotDrawsCurvesInLegendColours() throws {
        let perfect = BinaryEvaluation(probabilities: [0.9, 0.8, 0.1, 0.2], methylated: [true, true, false, false])
        let plot = ROCPlot(curves: [.init(name: "patient", points: perfect.rocCurve)])
        XCTAssertEqual(plot.legend.map(\.color), ["#141414"])
        let picture = try PNG.decode(PNG.encode(plot.render()))
        let side = ROCPlot.size - 2 * ROCPlot.margin
        // A perfect classifier's curve runs up the left edge and along the top.
        XCTAssertEqual(picture[ROCPlot.margin, ROCPlot.margin + side / 2], ROCPlot.palette[0])
        XCTAssertEqual(picture[ROCPlot.margin + side / 2, ROCPlot.margin], ROCPlot.palette[0])
        // Nothing of it below the diagonal.
        XCTAssertNotEqual(picture[ROCPlot.margin + side * 3 / 4, ROCPlot.margin + side * 3 / 4 + 20], ROCPlot.palette[0])
    }

    /// Pixels as Pillow decodes them (Debian's python3-pil, installed by scripts/install-deps.sh).
    private func pillowPixels(_ png: [UInt8]) throws -> RGBImage {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pictures-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("in.png"), output = directory.appendingPathComponent("out.rgb")
        try Data(png).write(to: input)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", """
            import sys; from PIL import Image
            im = Image.open(sys.argv[1]); im.load(); assert im.format == 'PNG', im.format
            sys.stdout.write(f"{im.width} {im.height}\\n"); open(sys.argv[2], 'wb').write(im.convert('RGB').tobytes())
            """, input.path, output.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let sizeLine = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let size = sizeLine.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        guard size.count == 2 else { throw PicturesError.png("Pillow could not read the PNG: \(sizeLine)") }
        return RGBImage(width: size[0], height: size[1], bytes: [UInt8](try Data(contentsOf: output)))
    }
}
