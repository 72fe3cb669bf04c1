// Times the Imaging operations on a 240×240 slice (median of repeated runs, one thread) and prints
// one "name microseconds" line per operation. Thread CPU time, not wall time: the machine is shared. tools/reference/bench_imaging.py runs this next to
// OpenCV in the same run.
import Foundation
import Imaging

let repetitions = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 200 : 200
let only = CommandLine.arguments.count > 2 ? CommandLine.arguments[2] : nil  // run just this operation

// A deterministic brain-like slice: smooth ellipse with texture, 0 outside.
var pixels = [UInt8](repeating: 0, count: 240 * 240)
var state: UInt64 = 0x9E3779B97F4A7C15
for y in 0..<240 {
    for x in 0..<240 {
        let dy = (Double(y) - 120) / 100, dx = (Double(x) - 120) / 86
        guard dx * dx + dy * dy < 1 else { continue }
        state = state &* 6364136223846793005 &+ 1442695040888963407
        pixels[y * 240 + x] = UInt8(60 + (state >> 57) + UInt64((x + y) % 64))
    }
}

func threadCPUNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

func median(_ name: String, _ body: () throws -> Void) rethrows {
    if let only, only != name { return }
    var times: [Double] = []
    for _ in 0..<repetitions {
        let start = threadCPUNanoseconds()
        try body()
        times.append(Double(threadCPUNanoseconds() - start) / 1000)
    }
    times.sort()
    print(name, String(format: "%.1f", times[times.count / 2]))
}

do {
    let bytes = try Image(width: 240, height: 240, pixels: pixels)
    let floats = try Image(width: 240, height: 240, pixels: pixels.map { Float($0) * 1.0079 })
    let mask = try Image(width: 240, height: 240, pixels: pixels.map { $0 > 1 ? UInt8(1) : 0 })
    var sink = 0
    try median("resize_u8_240_to_268") { sink &+= Int(try bytes.resized(width: 268, height: 268).pixels[1000]) }
    try median("resize_f32_240_to_268") { sink &+= Int(try floats.resized(width: 268, height: 268).pixels[1000]) }
    try median("resize_u8_268_to_240") {
        sink &+= Int(try bytes.paddedReflect101(minWidth: 268, minHeight: 268).resized(width: 240, height: 240).pixels[7])
    }
    try median("zoom_u8_240") { sink &+= Int(try bytes.zoomed(scale: 1.2).pixels[1000]) }
    try median("zoom_f32_240") { sink &+= Int(try floats.zoomed(scale: 1.2).pixels[1000]) }
    median("find_contours_240") { sink &+= findContours(mask).count }
    if sink == 42 { print("") }  // keeps the work observable
} catch {
    print("benchmark failed: \(error)")
}
