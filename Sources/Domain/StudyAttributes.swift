/// Patient and study attributes as the source wrote them (empty when absent): what a derived object copies.
/// They identify the patient: never put them in logs or logged messages.
public struct StudyAttributes: Sendable, Equatable, Codable {
    public var patientName: String
    public var patientId: String
    public var patientBirthDate: String
    public var patientSex: String
    public var studyInstanceUid: String
    public var studyDate: String
    public var studyTime: String
    public var studyId: String
    public var accessionNumber: String
    public var referringPhysicianName: String

    public init(patientName: String = "", patientId: String = "", patientBirthDate: String = "", patientSex: String = "",
                studyInstanceUid: String, studyDate: String = "", studyTime: String = "", studyId: String = "",
                accessionNumber: String = "", referringPhysicianName: String = "") {
        self.patientName = patientName
        self.patientId = patientId
        self.patientBirthDate = patientBirthDate
        self.patientSex = patientSex
        self.studyInstanceUid = studyInstanceUid
        self.studyDate = studyDate
        self.studyTime = studyTime
        self.studyId = studyId
        self.accessionNumber = accessionNumber
        self.referringPhysicianName = referringPhysicianName
    }
}

/// The kinds of DICOM object the fleet derives from a study, by their modality: a Segmentation per series, a
/// structured report per study.
public enum DicomObjectKind: String, Codable, Sendable {
    case segmentation = "SEG"
    case report = "SR"
}
