/// The fleet's two classifiers. The raw value names a model everywhere: `cls-worker --model`, the `model` column of
/// the prediction tables, the `models` a series expects in the ingested event.
public enum ClassifierModel: String, Codable, CaseIterable, Sendable, Comparable {
    /// T4E's two-stage 2D classifier: tumour-slice selection, ECA-NFNet-L0 + BiLSTM over 35-slice chunks.
    case nfnetLSTM = "nfnet-lstm"
    /// Borovec's 3D baseline: MONAI's 3D ResNet over the whole raw volume (`volume.npy`).
    case resnet3d

    public static func < (a: ClassifierModel, b: ClassifierModel) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// The weights file of this model for an MRI type in a model directory (`classifier-FLAIR.safetensors`,
    /// `classifier3d-FLAIR.safetensors`). The 3D model's presence for a type decides whether the fleet runs it.
    public func weightsFileName(_ mriType: MRIType) -> String {
        switch self {
        case .nfnetLSTM: "classifier-\(mriType.rawValue).safetensors"
        case .resnet3d: "classifier3d-\(mriType.rawValue).safetensors"
        }
    }
}
