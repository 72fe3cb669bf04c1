import Foundation

/// The four MRI sequences of the RSNA-MICCAI layout; the raw value is the folder name and the JSON spelling.
public enum MRIType: String, Codable, CaseIterable, Sendable, Comparable {
    case flair = "FLAIR"
    case t1w = "T1w"
    case t1wCE = "T1wCE"
    case t2w = "T2w"

    public static func < (a: MRIType, b: MRIType) -> Bool { a.rank < b.rank }

    private var rank: Int {
        switch self {
        case .flair: 0
        case .t1w: 1
        case .t1wCE: 2
        case .t2w: 3
        }
    }

    /// The type a folder name stands for, ignoring case ("flair", "T1WCE"), or nil.
    public init?(folderName: String) {
        guard let match = MRIType.allCases.first(where: { $0.rawValue.lowercased() == folderName.lowercased() })
        else { return nil }
        self = match
    }
}
