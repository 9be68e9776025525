internal import Glibc

extension String {
    /// The string without leading and trailing spaces and tabs (a fast, Foundation-free trim for header values).
    var trimmedSpaces: String {
        let utf8 = self.utf8
        guard let first = utf8.first, let last = utf8.last, first == 0x20 || first == 0x09 || last == 0x20 || last == 0x09 else { return self }
        var start = utf8.startIndex, end = utf8.endIndex
        while start < end, utf8[start] == 0x20 || utf8[start] == 0x09 { start = utf8.index(after: start) }
        while end > start, utf8[utf8.index(before: end)] == 0x20 || utf8[utf8.index(before: end)] == 0x09 { end = utf8.index(before: end) }
        return String(self[start..<end])
    }
}

/// An absolute path with `.`, `..` and repeated slashes resolved (symbolic links are not followed).
func absolutePath(_ path: String) -> String {
    var full = path
    if !path.hasPrefix("/") {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        let cwd = getcwd(&buffer, buffer.count) != nil ? String(cString: buffer) : "/"
        full = cwd + "/" + path
    }
    if !full.contains("//") && !full.contains("/./") && !full.contains("/../") && !full.hasSuffix("/.") && !full.hasSuffix("/..") {
        return full.count > 1 && full.hasSuffix("/") ? String(full.dropLast()) : full
    }
    var parts: [Substring] = []
    for component in full.split(separator: "/", omittingEmptySubsequences: true) {
        if component == "." { continue }
        if component == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
        parts.append(component)
    }
    return "/" + parts.joined(separator: "/")
}

/// Visits every regular file (or dangling link) under a folder whose name passes `include`, recursively,
/// as absolute paths: folder by folder, names sorted, using `readdir`'s file types.
func walkFiles(_ root: String, _ include: (String) -> Bool, _ visit: (String) throws -> Void) rethrows {
    let (files, folders) = listFolder(root, include)
    for file in files { try visit(file) }
    for folder in folders { try walkFiles(folder, include, visit) }
}

/// How many files ``walkFiles(_:_:_:)`` would visit.
func countFiles(_ root: String, _ include: (String) -> Bool) -> Int {
    let (files, folders) = listFolder(root, include)
    return files.count + folders.reduce(0) { $0 + countFiles($1, include) }
}

/// The files and sub-folders of one folder, each sorted; hidden entries are skipped.
private func listFolder(_ dir: String, _ include: (String) -> Bool) -> (files: [String], folders: [String]) {
    guard let handle = opendir(dir) else { return ([], []) }
    defer { closedir(handle) }
    var files: [String] = []
    var folders: [String] = []
    while let entry = readdir(handle) {
        let name = withUnsafePointer(to: entry.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
        if name.hasPrefix(".") { continue }
        let full = dir + "/" + name
        var type = Int32(entry.pointee.d_type)
        if type == Int32(DT_UNKNOWN) || type == Int32(DT_LNK) {
            var st = stat()
            if stat(full, &st) == 0 {
                type = (st.st_mode & S_IFMT) == S_IFDIR ? Int32(DT_DIR) : Int32(DT_REG)
            } else {
                type = Int32(DT_REG)  // a dangling link: reported as unreadable, not skipped
            }
        }
        if type == Int32(DT_DIR) {
            folders.append(full)
        } else if include(name) {
            files.append(full)
        }
    }
    return (files.sorted(), folders.sorted())
}
