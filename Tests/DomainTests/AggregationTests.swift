import Domain
import XCTest

final class AggregationTests: XCTestCase {
    func testSeriesProbabilityIsTheMeanOfItsChunks() {
        let chunks = [0.2, 0.4, 0.9].enumerated().map { ChunkResult(index: $0, firstInstance: nil, probability: $1) }
        XCTAssertEqual(try XCTUnwrap(Aggregation.seriesProbability(chunks)), 0.5, accuracy: 1e-15)
        XCTAssertNil(Aggregation.seriesProbability([]))
    }

    /// Two FLAIR series count once: the type's value is their mean, then types are averaged unweighted.
    func testPatientScoreAveragesSeriesWithinATypeThenTypes() {
        let score = Aggregation.patientScore([
            .init(mriType: "FLAIR", probability: 0.2, chunkCount: 2),
            .init(mriType: "T2w", probability: 0.9, chunkCount: 1),
            .init(mriType: "FLAIR", probability: 0.6, chunkCount: 3),
            .init(mriType: "T1w", probability: nil, chunkCount: 0),
        ])
        XCTAssertEqual(try XCTUnwrap(score.probability), (0.4 + 0.9) / 2, accuracy: 1e-15)
        XCTAssertEqual(score.typeCount, 2)
        XCTAssertEqual(score.chunkCount, 6)
        let none = Aggregation.patientScore([.init(mriType: "T1w", probability: nil, chunkCount: 0)])
        XCTAssertEqual(none, Aggregation.PatientScore(probability: nil, typeCount: 0, chunkCount: 0))
    }
}
