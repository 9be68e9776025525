import Foundation

/// A decoding error in a few words: which key is missing or wrong.
func describeDecoding(_ error: any Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let key, let context):
        let at = context.codingPath.map(\.stringValue).joined(separator: ".")
        return "missing key '\(key.stringValue)'" + (at.isEmpty ? "" : " at \(at)")
    case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
        return "wrong value at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
    case DecodingError.dataCorrupted(let context):
        let at = context.codingPath.map(\.stringValue).joined(separator: ".")
        let underlying = (context.underlyingError as NSError?)?.localizedDescription
        return (at.isEmpty ? "" : "at \(at): ") + (underlying ?? context.debugDescription)
    default:
        return String(describing: error)
    }
}
