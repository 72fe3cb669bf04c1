import ArrayFiles
import Classification
import Domain
import Foundation
import Imaging
import Inference
import SeriesFiles
import XCTest

/// The fixture series end to end against the PyTorch + albumentations + OpenCV pipeline of T4E.
final class SeriesPipelineTests: XCTestCase {
    struct Expected: Decodable { let kept: [Int]; let zoom: [Double]; let none: [Double] }

    static let seriesDirectory = Fixtures.url("series/study/T2w")

    func testFramesTakeOpenCVsUint8AndFloatPaths() throws {
        let input = try SeriesInput(directory: Self.seriesDirectory)
        let first = try XCTUnwrap(SeriesClassifier.keptSlices(input).first)
        for (path, file) in [(FramePath.uint8, "series/frame0_uint8_path.npy"), (.float, "series/frame0_float_path.npy")] {
            var frame = [Float](repeating: 0, count: ECANFNetArchitecture.frameSize)
            try frame.withUnsafeMutableBufferPointer {
                try FrameBuilder.write(slice: input.slices[first], wholeTumour: input.wholeTumour[first], enhancing: input.enhancing[first],
                                       variant: .zoomed, path: path, to: $0.baseAddress!)
            }
            let expected = try Fixtures.floats(file)
            XCTAssertEqual(expected.shape, [3, 224, 224])
            // uint8 path: identical integers before normalisation; float path: float32 here, float64 in the reference.
            XCTAssertLessThanOrEqual(maxAbsDifference(frame, expected.values), path == .uint8 ? 1e-6 : 1e-4, "\(path)")
        }
    }

    func testSeriesEndToEndEqualsTheReference() throws {
        let expected = try Fixtures.json("series/expected.json", as: Expected.self)
        let input = try SeriesInput(directory: Self.seriesDirectory)
        var classifier = SeriesClassifier(model: try Fixtures.seededModel(), weightsSha256: nil, threads: 2)
        for (augmentation, reference) in [(TestTimeAugmentation.zoom, expected.zoom), (.none, expected.none)] {
            classifier.augmentation = augmentation
            let result = try classifier.classify(input)
            XCTAssertEqual(result.kept, expected.kept.map(Optional.some))
            XCTAssertEqual(result.status, .classified)
            XCTAssertEqual(result.chunks.map(\.index), [0, 1, 2])
            XCTAssertEqual(result.chunks.map(\.firstInstance), [expected.kept[0], expected.kept[5], expected.kept[10]].map(Optional.some))
            XCTAssertEqual(result.chunks.count, reference.count)
            for (chunk, p) in zip(result.chunks, reference) {
                print("series parity: \(augmentation) chunk \(chunk.index): |Δp| = \(abs(chunk.probability - p))")
                XCTAssertEqual(chunk.probability, p, accuracy: 1e-5, "\(augmentation) chunk \(chunk.index)")
            }
            XCTAssertEqual(try XCTUnwrap(result.probability), reference.reduce(0, +) / 3, accuracy: 1e-5)
        }
    }

    /// Sharing embeddings across chunks gives the numbers of recomputing every chunk (the reference's way), here
    /// with zoom+none, which is the mean of the two variants.
    func testEmbeddingReuseEqualsRecomputingPerChunk() throws {
        let expected = try Fixtures.json("series/expected.json", as: Expected.self)
        let input = try SeriesInput(directory: Self.seriesDirectory)
        var classifier = SeriesClassifier(model: try Fixtures.seededModel(), weightsSha256: nil, augmentation: .zoomAndNone, threads: 2)
        let kept = try SeriesClassifier.keptSlices(input)
        let shared = try classifier.chunkProbabilities(input, kept: kept)
        classifier.reuseEmbeddings = false
        let recomputed = try classifier.chunkProbabilities(input, kept: kept)
        XCTAssertEqual(shared.count, 3)
        for i in 0..<3 {
            XCTAssertEqual(shared[i], recomputed[i], accuracy: 1e-6)
            XCTAssertEqual(shared[i], (expected.zoom[i] + expected.none[i]) / 2, accuracy: 1e-5)
        }
    }

    /// A series with a single slice: one padded chunk, and the backbone at batch 1 (a frame alone gives the row it
    /// gets in a larger batch).
    func testOneSliceSeriesIsClassified() throws {
        let full = try SeriesInput(directory: Self.seriesDirectory)
        let first = try XCTUnwrap(SeriesClassifier.keptSlices(full).first)
        let single = try SeriesInput(
            patientId: full.patientId, mriType: full.mriType, slicesTotal: 1, slicesNonempty: 1,
            instanceNumbers: [full.instanceNumbers[first]], slices: [full.slices[first]],
            wholeTumour: [full.wholeTumour[first]], enhancing: [full.enhancing[first]])
        var classifier = SeriesClassifier(model: try Fixtures.seededModel(), weightsSha256: nil, threads: 2)
        let result = try classifier.classify(single)
        XCTAssertEqual(result.status, .classified)
        XCTAssertEqual(result.kept, [full.instanceNumbers[first]])
        XCTAssertEqual(result.chunks.count, 1)
        classifier.reuseEmbeddings = false
        let recomputed = try classifier.chunkProbabilities(single, kept: [0])
        XCTAssertEqual(try XCTUnwrap(result.probability), recomputed[0], accuracy: 1e-6)

        let backbone = try Fixtures.seededModel().backbone
        var frames = [Float](repeating: 0, count: 2 * ECANFNetArchitecture.frameSize)
        try frames.withUnsafeMutableBufferPointer { buffer in
            try FrameBuilder.write(slice: single.slices[0], wholeTumour: single.wholeTumour[0], enhancing: single.enhancing[0],
                                   variant: .zoomed, path: .float, to: buffer.baseAddress!)
            FrameBuilder.writePadding(to: buffer.baseAddress! + ECANFNetArchitecture.frameSize)
        }
        let pair = try backbone.embed(frames: frames, count: 2, threads: 2)
        var alone: [[Float]] = []
        for threads in [1, 2] {
            alone.append(try backbone.embed(frames: Array(frames.prefix(ECANFNetArchitecture.frameSize)), count: 1, threads: threads))
            XCTAssertEqual(alone[threads - 1].count, ECANFNetArchitecture.embeddingWidth)
            XCTAssertLessThanOrEqual(maxAbsDifference(alone[threads - 1], Array(pair.prefix(ECANFNetArchitecture.embeddingWidth))), 1e-4,
                                     "\(threads) thread(s)")
        }
        // A lone frame's two threads split channels and output rows, never a sum: the same bits as one thread.
        XCTAssertEqual(alone[0].map(\.bitPattern), alone[1].map(\.bitPattern))
    }

    /// Frames are built by the workers as their batch comes up; a frame that cannot be built fails the whole
    /// embedding with its own error, whichever worker met it.
    func testAFrameThatCannotBeBuiltFailsTheEmbeddingWithItsError() throws {
        struct Unbuildable: Error, Equatable { let row: Int }
        let backbone = try Fixtures.seededModel().backbone
        for (count, threads, failing) in [(3, 1, 1), (4, 2, 3)] {
            XCTAssertThrowsError(try backbone.embed(count: count, threads: threads) { row, frame in
                if row == failing { throw Unbuildable(row: row) }
                FrameBuilder.writePadding(to: frame)
            }) { XCTAssertEqual($0 as? Unbuildable, Unbuildable(row: failing), "\(threads) thread(s)") }
        }
    }

    func testSeriesWithoutInformativeSliceIsARecordedResult() throws {
        let full = try SeriesInput(directory: Self.seriesDirectory)
        let tumourFree = try SeriesInput(
            patientId: full.patientId, mriType: full.mriType, slicesTotal: 3, slicesNonempty: 3,
            instanceNumbers: Array(full.instanceNumbers.prefix(3)), slices: Array(full.slices.prefix(3)),
            wholeTumour: Array(full.wholeTumour.prefix(3)), enhancing: Array(full.enhancing.prefix(3)))
        let result = try SeriesClassifier(model: try Fixtures.seededModel(), weightsSha256: "abc").classify(tumourFree)
        XCTAssertEqual(result.status, .noInformativeSlice)
        XCTAssertEqual(result.kept, [])
        XCTAssertEqual(result.chunks, [])
        XCTAssertNil(result.probability)
        let json = try JSONSerialization.jsonObject(with: DocumentJSON.encoder.encode(result)) as? [String: Any]
        XCTAssertTrue(json?["probability"] is NSNull, "probability is null, not absent: \(String(describing: json))")
    }

    func testMasksAndSlicesThatDisagreeAreErrors() throws {
        let full = try SeriesInput(directory: Self.seriesDirectory)
        let slices = Array(full.slices.prefix(4))
        XCTAssertThrowsError(try SeriesInput(
            patientId: "p", mriType: .t2w, slicesTotal: 4, slicesNonempty: 4, instanceNumbers: [1, 2, 3, 4], slices: slices,
            wholeTumour: Array(full.wholeTumour.prefix(3)), enhancing: Array(full.enhancing.prefix(4)))) { error in
            XCTAssertEqual(error as? ClassificationError,
                           .countMismatch(what: "whole-tumour masks for 4 slices", expected: 4, found: 3))
        }
        let small = try Image<UInt8>(width: 10, height: 10, repeating: 0)
        XCTAssertThrowsError(try SeriesInput(
            patientId: "p", mriType: .t2w, slicesTotal: 4, slicesNonempty: 4, instanceNumbers: [1, 2, 3, 4], slices: slices,
            wholeTumour: [small] + full.wholeTumour[1..<4], enhancing: Array(full.enhancing.prefix(4)))) { error in
            XCTAssertEqual(error as? ClassificationError, .sizeMismatch(what: "mask of slice 0", expected: [60, 76], found: [10, 10]))
        }

        // On disk: masks.npy with one slice fewer than image_uint8.npy.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cls-bad-series-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for file in [SeriesDirectory.File.metadata, .uint8Image] {
            try FileManager.default.copyItem(at: Self.seriesDirectory.appendingPathComponent(file.name),
                                             to: directory.appendingPathComponent(file.name))
        }
        let masks = try NpyArray(contentsOf: Self.seriesDirectory.appendingPathComponent("masks.npy"))
        let perSlice = 2 * 60 * 76
        try NpyArray(shape: [47, 2, 60, 76], values: .uint8(Array(try XCTUnwrap(masks.uint8Values).prefix(47 * perSlice))))
            .write(to: directory.appendingPathComponent("masks.npy"))
        XCTAssertThrowsError(try SeriesInput(directory: directory)) { error in
            XCTAssertEqual(error as? SeriesDirectoryError,
                           .shapeMismatch(path: directory.appendingPathComponent("masks.npy").path, shape: [47, 2, 60, 76],
                                          expected: [48, 2, 60, 76]))
        }
    }
}
