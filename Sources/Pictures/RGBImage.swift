/// An 8-bit RGB picture being drawn: one contiguous interleaved row-major buffer.
public struct RGBImage: Sendable, Equatable {
    public struct Color: Sendable, Equatable, Hashable {
        public let r: UInt8, g: UInt8, b: UInt8
        public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { (self.r, self.g, self.b) = (r, g, b) }
        public static func gray(_ v: UInt8) -> Color { Color(v, v, v) }
    }

    public let width: Int
    public let height: Int
    /// `height * width * 3` bytes.
    public private(set) var bytes: [UInt8]

    public init(width: Int, height: Int, fill: Color) {
        precondition(width > 0 && height > 0, "an image has pixels")
        self.width = width
        self.height = height
        bytes = [UInt8](repeating: 0, count: width * height * 3)
        fillRect(x: 0, y: 0, width: width, height: height, fill)
    }

    public init(width: Int, height: Int, bytes: [UInt8]) {
        precondition(width > 0 && height > 0 && bytes.count == width * height * 3, "RGB bytes of the given size")
        (self.width, self.height, self.bytes) = (width, height, bytes)
    }

    public subscript(x: Int, y: Int) -> Color {
        get { let i = (y * width + x) * 3; return Color(bytes[i], bytes[i + 1], bytes[i + 2]) }
        set {
            let i = (y * width + x) * 3
            (bytes[i], bytes[i + 1], bytes[i + 2]) = (newValue.r, newValue.g, newValue.b)
        }
    }

    /// Sets a pixel if it lies inside the image (drawing primitives may reach past the edges).
    public mutating func plot(_ x: Int, _ y: Int, _ color: Color) {
        if x >= 0, y >= 0, x < width, y < height { self[x, y] = color }
    }

    public mutating func fillRect(x: Int, y: Int, width w: Int, height h: Int, _ color: Color) {
        for yy in max(0, y)..<max(max(0, y), min(height, y + h)) {
            for xx in max(0, x)..<max(max(0, x), min(width, x + w)) { self[xx, yy] = color }
        }
    }

    /// A rectangle's outline `thickness` pixels wide, inside the rectangle.
    public mutating func strokeRect(x: Int, y: Int, width w: Int, height h: Int, thickness: Int, _ color: Color) {
        fillRect(x: x, y: y, width: w, height: thickness, color)
        fillRect(x: x, y: y + h - thickness, width: w, height: thickness, color)
        fillRect(x: x, y: y, width: thickness, height: h, color)
        fillRect(x: x + w - thickness, y: y, width: thickness, height: h, color)
    }

    /// A straight line (Bresenham), `thickness` pixels square per step; `dash` > 0 leaves gaps of that length.
    public mutating func line(from a: (x: Int, y: Int), to b: (x: Int, y: Int), thickness: Int = 1, dash: Int = 0,
                              _ color: Color) {
        let dx = abs(b.x - a.x), dy = -abs(b.y - a.y)
        let sx = a.x < b.x ? 1 : -1, sy = a.y < b.y ? 1 : -1
        var error = dx + dy
        var (x, y) = a
        var step = 0
        while true {
            if dash == 0 || (step / dash) % 2 == 0 {
                fillRect(x: x - (thickness - 1) / 2, y: y - (thickness - 1) / 2, width: thickness, height: thickness, color)
            }
            if x == b.x && y == b.y { break }
            let doubled = 2 * error
            if doubled >= dy { error += dy; x += sx }
            if doubled <= dx { error += dx; y += sy }
            step += 1
        }
    }
}
