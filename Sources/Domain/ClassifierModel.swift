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

/// Whose probabilities a reading of the results takes (`reporter evaluate --model`, `reporter export --model`, the
/// results page): one model's, or each patient's mean over the models that have a probability for them
/// (`patient_predictions_by_model.mean_probability`; per MRI type, the mean over both models' series).
public enum PredictionSource: Sendable, Hashable, CustomStringConvertible {
    case model(ClassifierModel)
    case meanOfModels

    public static let allCases: [PredictionSource] = ClassifierModel.allCases.map { .model($0) } + [.meanOfModels]

    /// `nfnet-lstm`, `resnet3d` or `mean`.
    public init?(name: String) {
        guard let source = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = source
    }

    public var description: String {
        switch self {
        case .model(let model): model.rawValue
        case .meanOfModels: "mean"
        }
    }
}
