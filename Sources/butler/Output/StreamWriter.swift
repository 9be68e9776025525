import Foundation
import ButlerKit

/// Writes to standard output in large chunks, so long results stream without growing memory. Control characters
/// are escaped as ``emit(_:)`` escapes them.
final class StreamWriter {
    private var buffer = Data()

    func write(_ text: String) {
        buffer.append(contentsOf: terminalSafe(text).utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    func flush() {
        guard !buffer.isEmpty else { return }
        FileHandle.standardOutput.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    deinit { flush() }
}
