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
// - Parents follow Suzuki's rule from the last border met on the row; labels here are exact integers
//   (OpenCV's 8-bit path recovers the same parent with a bounding-box search).
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
public func findContours<Pixel: PixelValue>(_ image: Image<Pixel>) -> [Contour] {
    var tracer = BorderTracer(image)
    return tracer.run()
}

private struct BorderTracer {
    let stride: Int
    let width: Int
    let height: Int
    /// Padded label image: 0 background, 1 unvisited foreground, k ≥ 2 visited by border k,
    /// -k marked by border k as its right edge. Border k is found contour number k - 2; 1 is the frame.
    var labels: [Int32]
    /// Neighbour offsets by chain code 0…7 (E, NE, N, NW, W, SW, S, SE), repeated once.
    let deltas: [Int]
    static let steps: [(dx: Int, dy: Int)] = [(1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1)]

    var found: [(points: [ContourPoint], isHole: Bool, parent: Int)] = []  // parent: -1 = frame

    init<Pixel: PixelValue>(_ image: Image<Pixel>) {
        let width = image.width, height = image.height, s = width + 2
        var labels = [Int32](repeating: 0, count: s * (height + 2))
        image.pixels.withUnsafeBufferPointer { source in
            for y in 0..<height {
                for x in 0..<width where source[y * width + x] != .zero {
                    labels[(y + 1) * s + x + 1] = 1
                }
            }
        }
        self.width = width
        self.height = height
        self.stride = s
        self.labels = labels
        let eight = [1, -s + 1, -s, -s - 1, -1, s - 1, s, s + 1]
        deltas = eight + eight
    }

    mutating func run() -> [Contour] {
        for y in 1...height {
            var lastLabel: Int32 = 1  // LNBD: the frame at the start of each row
            for x in 1...width {
                let p = y * stride + x
                let value = labels[p]
                if value == 0 { continue }
                var isHole = false
                if value == 1 && labels[p - 1] == 0 {
                    isHole = false
                } else if value >= 1 && labels[p + 1] == 0 {
                    isHole = true
                    if value > 1 { lastLabel = value }
                } else {
                    if value != 1 { lastLabel = abs(value) }
                    continue
                }
                let parent = parentOfNewBorder(isHole: isHole, lastLabel: lastLabel)
                let label = Int32(found.count + 2)
                let points = follow(from: p, origin: ContourPoint(x: x - 1, y: y - 1), isHole: isHole, label: label)
                found.append((points, isHole, parent))
                let after = labels[p]
                if after != 1 { lastLabel = abs(after) }
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
    private mutating func follow(from start: Int, origin: ContourPoint, isHole: Bool, label: Int32) -> [ContourPoint] {
        var points: [ContourPoint] = []
        var s = isHole ? 0 : 4
        let searchEnd = s
        var first = start
        repeat {
            s = (s - 1) & 7
            first = start + deltas[s]
        } while labels[first] == 0 && s != searchEnd

        var point = origin
        if s == searchEnd {  // isolated pixel
            labels[start] = -label
            return [point]
        }
        var current = start
        while true {
            let end = s
            var next = current
            while s < 15 {
                s += 1
                next = current + deltas[s]
                if labels[next] != 0 { break }
            }
            s &= 7
            if UInt(bitPattern: s - 1) < UInt(end) {
                labels[current] = -label  // the east neighbour was examined and is background
            } else if labels[current] == 1 {
                labels[current] = label
            }
            points.append(point)
            point.x += Self.steps[s].dx
            point.y += Self.steps[s].dy
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
