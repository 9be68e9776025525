/// Takes secrets out of text that may quote a connection string or an endpoint, before anyone prints it.
///
/// It lives in the lowest module of the package so that the S3 client (endpoints) and ButlerKit (PostgreSQL URLs,
/// libpq's messages, libpq's `key=value` strings) share it. What it masks, each replaced by `***`:
///
/// - the password of every URL's user info (`scheme://user:secret@host` becomes `scheme://user:***@host`), the user
///   info running from `://` to the last `@` of the URL (so `user:p@ss@host` loses all of `p@ss`), the URL ending at
///   white space or a quote, as libpq and curl quote it;
/// - the value of every `password=` and `sslpassword=` (a URL parameter or a `key=value` setting, quoted or not);
/// - every occurrence of each known secret (`secrets`, at least 3 characters), wherever it appears and however the
///   text around it is malformed (a URL libpq could not parse, a password holding a quote).
///
/// Over-masking (an `@` in a URL's query) is accepted: a message may lose a detail, never leak a password.
package enum SecretRedaction {
    package static let mask = "***"

    /// The text with every password masked.
    package static func redact(_ text: String, secrets: [String] = []) -> String {
        var result = text
        for secret in Set(secrets) where secret.count >= 3 && result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: mask)
        }
        return maskPasswordSettings(maskUserInfo(result))
    }

    /// `scheme://user:secret@host` to `scheme://user:***@host`, for every URL of the text.
    private static func maskUserInfo(_ text: String) -> String {
        guard text.contains("://"), text.contains("@") else { return text }
        let chars = Array(text)
        var out: [Character] = []
        out.reserveCapacity(chars.count)
        var i = 0
        while i < chars.count {
            guard i + 2 < chars.count, chars[i] == ":", chars[i + 1] == "/", chars[i + 2] == "/" else {
                out.append(chars[i])
                i += 1
                continue
            }
            out += [":", "/", "/"]
            let start = i + 3
            var end = start
            while end < chars.count, !isURLEnd(chars[end]) { end += 1 }
            // The user info ends at the last '@'; it holds a password when a ':' comes before that.
            if let at = chars[start..<end].lastIndex(of: "@"), let colon = chars[start..<at].firstIndex(of: ":") {
                out += chars[start..<colon]
                out += Array(":" + mask)
                out += chars[at..<end]
            } else {
                out += chars[start..<end]
            }
            i = end
        }
        return String(out)
    }

    private static func isURLEnd(_ c: Character) -> Bool {
        c.isWhitespace || c == "\"" || c == "'" || c == "`" || c == "<" || c == ">"
    }

    /// `password=secret` and `password = 'a secret'` (and `sslpassword`) to `password=***`.
    private static func maskPasswordSettings(_ text: String) -> String {
        guard text.range(of: "password", options: .caseInsensitive) != nil else { return text }
        let chars = Array(text)
        let word = Array("password")
        func isWord(_ at: Int, _ w: [Character]) -> Bool {
            at >= 0 && at + w.count <= chars.count && (0..<w.count).allSatisfy { chars[at + $0].lowercased() == String(w[$0]) }
        }
        func isNameCharacter(_ at: Int) -> Bool { at >= 0 && (chars[at].isLetter || chars[at].isNumber || chars[at] == "_") }
        var out: [Character] = []
        out.reserveCapacity(chars.count)
        var i = 0
        while i < chars.count {
            // "password" that does not continue a longer word (sslpassword is allowed), then '='.
            guard isWord(i, word), !isNameCharacter(i - 1) || (isWord(i - 3, Array("ssl")) && !isNameCharacter(i - 4)) else {
                out.append(chars[i])
                i += 1
                continue
            }
            var j = i + word.count
            while j < chars.count, chars[j] == " " || chars[j] == "\t" { j += 1 }
            guard j < chars.count, chars[j] == "=" else {
                out += chars[i..<i + word.count]
                i += word.count
                continue
            }
            j += 1
            while j < chars.count, chars[j] == " " || chars[j] == "\t" { j += 1 }
            out += chars[i..<j]
            out += Array(mask)
            if j < chars.count, chars[j] == "'" {
                // A quoted libpq value: to the closing quote, backslash escapes included.
                var k = j + 1
                while k < chars.count, chars[k] != "'" { k += chars[k] == "\\" ? 2 : 1 }
                j = min(k + 1, chars.count)
            } else {
                while j < chars.count, !(chars[j].isWhitespace || chars[j] == "&" || chars[j] == "\"" || chars[j] == "'") { j += 1 }
            }
            i = j
        }
        return String(out)
    }
}
