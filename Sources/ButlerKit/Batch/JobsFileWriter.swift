import Foundation
internal import Glibc

extension JobsFile {
    /// Writes a jobs file a job at a time, so that a million jobs never sit in memory: lines go to a temporary file
    /// beside the destination, renamed into place by ``finish()`` (a job never reads half a file); a writer
    /// abandoned before then removes its temporary file.
    final class Writer {
        let path: String
        private let temporary: String
        private let handle: FileHandle
        private var buffer = Data()
        private var finished = false
        /// Jobs written so far.
        private(set) var count = 0

        init(path: String, header: Header) throws {
            self.path = path
            let url = URL(fileURLWithPath: path)
            temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(FileDatastore.makeToken())").path
            guard FileManager.default.createFile(atPath: temporary, contents: nil), let handle = FileHandle(forWritingAtPath: temporary) else {
                throw ButlerError(.io, "cannot write the jobs file \(path): cannot create \(temporary): \(String(cString: strerror(errno)))")
            }
            self.handle = handle
            buffer.append(try JobsFile.encoder.encode(header))
            buffer.append(10)
        }

        deinit {
            if !finished {
                try? handle.close()
                unlink(temporary)
            }
        }

        /// Appends a job; its number must be the next one.
        func append(_ job: Job) throws {
            precondition(job.job == count + 1, "jobs are written in order")
            buffer.append(try JobsFile.encoder.encode(job))
            buffer.append(10)
            count += 1
            if buffer.count >= 1 << 20 { try flush() }
        }

        private func flush() throws {
            do { try handle.write(contentsOf: buffer) } catch {
                throw ButlerError(.io, "cannot write the jobs file \(path): \(error.localizedDescription)")
            }
            buffer.removeAll(keepingCapacity: true)
        }

        /// Writes what is left and renames the file into place.
        func finish() throws {
            try flush()
            try handle.close()
            guard rename(temporary, path) == 0 else {
                throw ButlerError(.io, "cannot write the jobs file \(path): \(String(cString: strerror(errno)))")
            }
            finished = true
        }
    }
}
