import Testing
@testable import ButlerKit

/// Messages listing many failures stay one readable line.
@Suite("error summaries")
struct ErrorSummaryTests {
    @Test("the first three failures, each cut to 300 characters, then a count")
    func summary() {
        let failures = (1...1000).map { "/full/disk/file\($0).fits: cannot write: No space left on device" }
        let text = ButlerError.summary(failures)
        #expect(text.hasPrefix("/full/disk/file1.fits: cannot write: No space left on device; /full/disk/file2.fits"))
        #expect(text.hasSuffix("/full/disk/file3.fits: cannot write: No space left on device; and 997 more"))
        #expect(text.count < 300)
        #expect(ButlerError.summary(["one"]) == "one")
        #expect(ButlerError.summary(["a", "b", "c"]) == "a; b; c")
        let long = ButlerError.summary([String(repeating: "x", count: 50_000)])
        #expect(long.count == 303 && long.hasSuffix("..."))
    }
}
