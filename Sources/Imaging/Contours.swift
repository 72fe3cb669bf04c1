// Contour tracing with cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_NONE) semantics
// (OpenCV 4.8.1, contours.cpp), and cv2.contourArea.
//
// Suzuki & Abe border following on the binary image "pixel != 0":
// - OpenCV 4 first copies the image into a 1-pixel zero frame, so objects touching the image edge
//   are traced like any other; points come back in image coordinates.
// - Raster scan; an outer border starts at a 1-pixel whose left neighbour is 0, a hole border at a
//   foreground pixel whose right neighbour is 0 (and that no border has marked as its right edge).
//   Outer borders follow 8-connectivity; holes are their 4-connected background complements.
// - Each border is followed counter-clockwise in chain-code terms (icvFetchContour): every visited
//   pixel is emitted (CHAIN_APPROX_NONE), starting at the border's first pixel; a single pixel gives
//   one point.
// - Parents follow Suzuki's rule from the last border met on the row. Like OpenCV, the scan runs on
//   one byte per pixel (0, 1, visited, right edge); the border's number is kept aside for border
//   pixels only, so the parent is exact (OpenCV's 8-bit path finds it with a bounding-box search).
// - Output order is OpenCV's: each contour is inserted at the front of its parent's child list, and
//   the list is flattened depth-first (parent, then its children), so later borders come first.

public struct ContourPoint: Sendable, Hashable {
    public var x: Int
    public var y: Int
    public init(x: Int, y: Int) { self.x = x; self.y = y }
}

/// OpenCV's hierarchy entry [next, previous, first child, parent]; -1 where there is none.
public struct ContourLinks: Sendable, Equatable {
    public var next: Int
    public var previous: Int
    public var firstChild: Int
    public var parent: Int
    public init(next: Int, previous: Int, firstChild: Int, parent: Int) {
        self.next = next; self.previous = previous; self.firstChild = firstChild; self.parent = parent
    }
}

public struct Contour: Sendable, Equatable {
    public var points: [ContourPoint]
    /// True for a hole border (the boundary of a background region inside an object).
    public var isHole: Bool
    public var links: ContourLinks

    /// cv2.contourArea(points) (oriented=False).
    public var area: Double { contourArea(points) }
}

/// cv2.contourArea(points, oriented=False): the shoelace area of the closed polygon through the
/// points (not a pixel count), summed in double as OpenCV does.
public func contourArea(_ points: [ContourPoint]) -> Double {
    guard let last = points.last else { return 0 }
    var previous = last
    var twiceArea = 0.0
    for point in points {
        twiceArea += Double(previous.x) * Double(point.y) - Double(previous.y) * Double(point.x)
        previous = point
    }
    return abs(twiceArea * 0.5)
}

/// cv2.findContours(image, cv2.RETR_TREE, cv2.CHAIN_APPROX_NONE) on the mask "pixel != 0":
/// every outer and hole border, nested ones included, in OpenCV's order, with OpenCV's hierarchy.
@_specialize(where Pixel == UInt8)
@_specialize(where Pixel == Float)
public func findContours<Pixel: PixelValue>(_ image: Image<Pixel>) -> [Contour] {
    let tracer = BorderTracer(image)
    return tracer.run()
}

private final class BorderTracer {
    let stride: Int
    let width: Int
    let height: Int
    /// Padded mark image: 0 background, 1 unvisited foreground, `visited`, or `rightEdge` (a border
    /// pixel whose east neighbour is background and was examined by the border through it).
    let marks: UnsafeMutableBufferPointer<Int8>
    static let visited: Int8 = 2, rightEdge: Int8 = -2
    /// For border pixels only (marks not 0 or 1): the number of the border that marked them last;
    /// border k is found contour number k - 2, 1 is the frame. Other entries are never read.
    let labels: UnsafeMutablePointer<Int32>
    /// Neighbour offsets by chain code 0…7 (E, NE, N, NW, W, SW, S, SE), repeated once.
    let deltas: UnsafeMutableBufferPointer<Int>
    /// Chain code steps as (dx, dy).
    let stepX: UnsafeMutableBufferPointer<Int>
    let stepY: UnsafeMutableBufferPointer<Int>

    var found: [(points: [ContourPoint], isHole: Bool, parent: Int)] = []  // parent: -1 = frame

    @_specialize(where Pixel == UInt8)
    @_specialize(where Pixel == Float)
    init<Pixel: PixelValue>(_ image: Image<Pixel>) {
        let width = image.width, height = image.height, s = width + 2
        let marks = UnsafeMutableBufferPointer<Int8>.allocate(capacity: s * (height + 2))
        marks.initialize(repeating: 0)
        image.pixels.withUnsafeBufferPointer { source in
            for y in 0..<height {
                let sourceRow = source.baseAddress! + (y &* width)
                let row = marks.baseAddress! + ((y &+ 1) &* s &+ 1)
                for x in 0..<width { row[x] = sourceRow[x] != .zero ? 1 : 0 }
            }
        }
        self.width = width
        self.height = height
        self.stride = s
        self.marks = marks
        self.labels = UnsafeMutablePointer<Int32>.allocate(capacity: s * (height + 2))
        let eight = [1, -s + 1, -s, -s - 1, -1, s - 1, s, s + 1]
        deltas = UnsafeMutableBufferPointer.allocate(capacity: 16)
        _ = deltas.initialize(from: eight + eight)
        stepX = UnsafeMutableBufferPointer.allocate(capacity: 8)
        _ = stepX.initialize(from: [1, 1, 0, -1, -1, -1, 0, 1])
        stepY = UnsafeMutableBufferPointer.allocate(capacity: 8)
        _ = stepY.initialize(from: [0, -1, -1, -1, 0, 1, 1, 1])
    }

    deinit {
        marks.deallocate()
        labels.deallocate()
        deltas.deallocate()
        stepX.deallocate()
        stepY.deallocate()
    }

    /// The raster scan as OpenCV runs it (icvFindNextContour): only value changes along a row matter.
    /// A 0 → 1 change starts an outer border at the 1; a change from a foreground pixel not marked as
    /// a right edge to 0 starts a hole border at that foreground pixel. After a border is traced the
    /// scan resumes at the next pixel, re-reading the (now marked) pixel it started from.
    func run() -> [Contour] {
        for y in 1...height {
            let row = marks.baseAddress! + y &* stride
            var lastLabel: Int32 = 1  // LNBD: the frame at the start of each row
            var previous: Int8 = 0
            var x = 1
            while x <= width {
                let value = row[x]
                if value == previous { x &+= 1; continue }
                let isOuter = previous == 0 && value == 1
                let isHole = !isOuter && value == 0 && previous >= 1
                if isOuter || isHole {
                    let origin = y &* stride &+ x &- (isHole ? 1 : 0)
                    if isHole && previous == Self.visited { lastLabel = labels[origin] }
                    let parent = parentOfNewBorder(isHole: isHole, lastLabel: lastLabel)
                    let label = Int32(found.count + 2)
                    let points = follow(from: origin, origin: ContourPoint(x: x - 1 - (isHole ? 1 : 0), y: y - 1),
                                        isHole: isHole, label: label)
                    found.append((points, isHole, parent))
                    lastLabel = labels[origin]
                    previous = row[x]
                } else {
                    previous = value
                    if value != 0 && value != 1 { lastLabel = labels[y &* stride &+ x] }
                }
                x &+= 1
            }
        }
        return ordered()
    }

    /// Suzuki's Table 1: a border of the same kind as the last one met shares its parent; of the
    /// other kind, it is its child. The frame counts as a hole.
    private func parentOfNewBorder(isHole: Bool, lastLabel: Int32) -> Int {
        let last = Int(lastLabel) - 2
        let lastIsHole = last < 0 ? true : found[last].isHole
        if lastIsHole == isHole { return last < 0 ? -1 : found[last].parent }
        return last
    }

    /// icvFetchContour with CHAIN_APPROX_NONE: follows one border, marks it, returns its pixels.
    private func follow(from start: Int, origin: ContourPoint, isHole: Bool, label: Int32) -> [ContourPoint] {
        var points: [ContourPoint] = []
        var s = isHole ? 0 : 4
        let searchEnd = s
        var first = start
        repeat {
            s = (s - 1) & 7
            first = start + deltas[s]
        } while marks[first] == 0 && s != searchEnd

        var point = origin
        if s == searchEnd {  // isolated pixel
            marks[start] = Self.rightEdge
            labels[start] = label
            return [point]
        }
        var current = start
        while true {
            let end = s
            var next = current
            while s < 15 {
                s += 1
                next = current + deltas[s]
                if marks[next] != 0 { break }
            }
            s &= 7
            if UInt(bitPattern: s - 1) < UInt(end) {
                marks[current] = Self.rightEdge  // the east neighbour was examined and is background
                labels[current] = label
            } else if marks[current] == 1 {
                marks[current] = Self.visited
                labels[current] = label
            }
            points.append(point)
            point.x += stepX[s]
            point.y += stepY[s]
            if next == start && current == first { break }
            current = next
            s = (s + 4) & 7
        }
        return points
    }

    /// OpenCV's output order and hierarchy (front insertion into child lists, depth-first flattening).
    private func ordered() -> [Contour] {
        var children = [[Int]](repeating: [], count: found.count)
        var roots: [Int] = []
        for (index, contour) in found.enumerated() {
            if contour.parent < 0 { roots.append(index) } else { children[contour.parent].append(index) }
        }
        var order: [Int] = []
        order.reserveCapacity(found.count)
        var stack: [Int] = roots  // popping from the end visits the latest first
        while let index = stack.popLast() {
            order.append(index)
            stack.append(contentsOf: children[index])
        }
        var position = [Int](repeating: 0, count: found.count)
        for (i, index) in order.enumerated() { position[index] = i }

        var links = [ContourLinks](repeating: ContourLinks(next: -1, previous: -1, firstChild: -1, parent: -1),
                                   count: found.count)
        for list in [roots] + children {
            let outputOrder = Array(list.reversed())  // front insertion: latest first
            for (at, index) in outputOrder.enumerated() {
                if at + 1 < outputOrder.count { links[index].next = position[outputOrder[at + 1]] }
                if at > 0 { links[index].previous = position[outputOrder[at - 1]] }
            }
        }
        for index in found.indices {
            if let firstChild = children[index].last { links[index].firstChild = position[firstChild] }
            if found[index].parent >= 0 { links[index].parent = position[found[index].parent] }
        }
        return order.map { Contour(points: found[$0].points, isHole: found[$0].isHole, links: links[$0]) }
    }
}
