/// A transfer syntax: its UID and DCMTK's name for it (e.g. "JPEG-LS Lossless").
public struct TransferSyntax: Hashable, Sendable, Codable {
    public let uid: String
    public let name: String

    public init(uid: String, name: String) {
        self.uid = uid
        self.name = name
    }
}
