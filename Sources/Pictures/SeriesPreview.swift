import Imaging

/// The picture someone checking the segmenter looks at first: every slice of a series in a grid, the
/// whole-tumour and enhancing-tumour outlines drawn over it, the slices the classifier kept framed, and the chunk
/// probabilities as bars under the grid.
public struct SeriesPreview: Sendable {
    public static let wholeTumourColor = RGBImage.Color(0, 255, 0)
    public static let enhancingColor = RGBImage.Color(255, 0, 64)
    public static let keptColor = RGBImage.Color(0, 160, 255)
    public static let backgroundColor = RGBImage.Color(24, 24, 32)
    public static let barColor = RGBImage.Color(255, 170, 0)
    public static let halfLineColor = RGBImage.Color(200, 200, 210)
    /// Pixels around each tile; the inner `frame` of them carries the kept-slice mark.
    public static let gutter = 3
    public static let frame = 2
    public static let stripHeight = 48

    public struct Slice: Sendable {
        public let image: Image<UInt8>
        public let wholeTumour: Image<UInt8>
        public let enhancing: Image<UInt8>
        public let kept: Bool

        public init(image: Image<UInt8>, wholeTumour: Image<UInt8>, enhancing: Image<UInt8>, kept: Bool) {
            precondition(wholeTumour.width == image.width && wholeTumour.height == image.height
                         && enhancing.width == image.width && enhancing.height == image.height, "masks of the slice's size")
            (self.image, self.wholeTumour, self.enhancing, self.kept) = (image, wholeTumour, enhancing, kept)
        }
    }

    /// Where each slice's tile lies in the picture, and the subsampling step from slice pixels to tile pixels.
    public struct Layout: Sendable, Equatable {
        public let columns: Int
        public let step: Int
        public let tileWidth: Int
        public let tileHeight: Int
        public let width: Int
        public let gridHeight: Int

        /// The tile's top-left corner for slice `index`.
        public func origin(of index: Int) -> (x: Int, y: Int) {
            let cell = (x: index % columns, y: index / columns)
            return (SeriesPreview.gutter + cell.x * (tileWidth + SeriesPreview.gutter),
                    SeriesPreview.gutter + cell.y * (tileHeight + SeriesPreview.gutter))
        }
    }

    public let slices: [Slice]
    public let chunkProbabilities: [Double]
    public let layout: Layout

    /// Slices larger than `maxTile` are subsampled by a whole step (nearest pixel) so that a 512² series of 150
    /// slices stays a picture a browser shows, not hundreds of megapixels; masks are subsampled the same way.
    public init(slices: [Slice], chunkProbabilities: [Double], maxTile: Int = 128) throws {
        guard let first = slices.first else { throw PicturesError.noSlices }
        guard slices.allSatisfy({ $0.image.width == first.image.width && $0.image.height == first.image.height }) else {
            throw PicturesError.slicesDifferInSize
        }
        let step = max(1, (max(first.image.width, first.image.height) + maxTile - 1) / maxTile)
        let tileWidth = (first.image.width + step - 1) / step, tileHeight = (first.image.height + step - 1) / step
        let columns = max(1, Int(Double(slices.count).squareRoot().rounded(.up)))
        let rows = (slices.count + columns - 1) / columns
        layout = Layout(columns: columns, step: step, tileWidth: tileWidth, tileHeight: tileHeight,
                        width: Self.gutter + columns * (tileWidth + Self.gutter),
                        gridHeight: Self.gutter + rows * (tileHeight + Self.gutter))
        self.slices = slices
        self.chunkProbabilities = chunkProbabilities
    }

    /// A mask pixel on the region's boundary: inside, with a 4-neighbour outside (or beyond the edge). Public so
    /// that tests and callers agree with the drawing on what an outline is.
    public static func boundary(of mask: Image<UInt8>, step: Int) -> [Bool] {
        let w = (mask.width + step - 1) / step, h = (mask.height + step - 1) / step
        var inside = [Bool](repeating: false, count: w * h)
        for y in 0..<h { for x in 0..<w { inside[y * w + x] = mask[y * step, x * step] != 0 } }
        var edge = [Bool](repeating: false, count: w * h)
        for y in 0..<h {
            for x in 0..<w where inside[y * w + x] {
                edge[y * w + x] = x == 0 || y == 0 || x == w - 1 || y == h - 1
                    || !inside[y * w + x - 1] || !inside[y * w + x + 1] || !inside[(y - 1) * w + x] || !inside[(y + 1) * w + x]
            }
        }
        return edge
    }

    public func render() -> RGBImage {
        var picture = RGBImage(width: layout.width, height: layout.gridHeight + Self.stripHeight, fill: Self.backgroundColor)
        let (step, tw, th) = (layout.step, layout.tileWidth, layout.tileHeight)
        for (index, slice) in slices.enumerated() {
            let origin = layout.origin(of: index)
            if slice.kept {
                picture.strokeRect(x: origin.x - Self.frame, y: origin.y - Self.frame, width: tw + 2 * Self.frame,
                                   height: th + 2 * Self.frame, thickness: Self.frame, Self.keptColor)
            }
            for y in 0..<th { for x in 0..<tw { picture[origin.x + x, origin.y + y] = .gray(slice.image[y * step, x * step]) } }
            // Enhancing after whole tumour: where the outlines meet, the enhancing one shows.
            for (mask, color) in [(slice.wholeTumour, Self.wholeTumourColor), (slice.enhancing, Self.enhancingColor)] {
                let edge = Self.boundary(of: mask, step: step)
                for y in 0..<th { for x in 0..<tw where edge[y * tw + x] { picture[origin.x + x, origin.y + y] = color } }
            }
        }
        drawChunkStrip(on: &picture)
        return picture
    }

    /// One bar per chunk, its height the probability, with a line at 0.5.
    private func drawChunkStrip(on picture: inout RGBImage) {
        let top = layout.gridHeight + 4, height = Self.stripHeight - 8
        let left = Self.gutter, width = layout.width - 2 * Self.gutter
        picture.strokeRect(x: left, y: top, width: width, height: height, thickness: 1, .gray(90))
        if !chunkProbabilities.isEmpty {
            let barWidth = max(1, (width - 2) / chunkProbabilities.count)
            for (i, p) in chunkProbabilities.enumerated() {
                let barHeight = Int((min(max(p, 0), 1) * Double(height - 2)).rounded())
                picture.fillRect(x: left + 1 + i * barWidth, y: top + height - 1 - barHeight,
                                 width: max(1, barWidth - 1), height: barHeight, Self.barColor)
            }
        }
        let half = top + 1 + (height - 2) / 2
        picture.line(from: (left, half), to: (left + width - 1, half), dash: 3, Self.halfLineColor)
    }
}
