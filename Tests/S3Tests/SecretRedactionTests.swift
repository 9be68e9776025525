import Foundation
@testable import S3
import Testing

/// The one redaction of secrets before printing: URL user info, `password=` settings, known secrets; nothing else
/// changes.
@Suite("secret redaction")
struct SecretRedactionTests {
    @Test("user info passwords are masked in every URL of a text, malformed ones included")
    func userInfo() {
        let cases: [(String, String)] = [
            ("postgresql://u:pw@host:5432/db", "postgresql://u:***@host:5432/db"),
            ("postgres://:pw@host/db", "postgres://:***@host/db"),
            // libpq quoting a URL it could not parse (an unclosed IPv6 bracket).
            ("in URI: \"postgresql://u:pw_SECRET@[::1:5432/db?connect_timeout=10\"",
             "in URI: \"postgresql://u:***@[::1:5432/db?connect_timeout=10\""),
            // An '@' in the password: all of it up to the last '@' goes.
            ("postgresql://u:p@ss@host/db", "postgresql://u:***@host/db"),
            ("cannot reach s3://b at http://user:secret@127.0.0.1:9000: refused", "cannot reach s3://b at http://user:***@127.0.0.1:9000: refused"),
            ("two: http://a:x1@h1 and 'https://b:x2@h2/p'", "two: http://a:***@h1 and 'https://b:***@h2/p'"),
        ]
        for (text, expected) in cases {
            #expect(SecretRedaction.redact(text) == expected, "\(text)")
        }
    }

    @Test("password= settings are masked, in URL queries and in libpq key=value strings, quoted or not")
    func settings() {
        let cases: [(String, String)] = [
            ("postgresql://me@host/db?password=secret&schema=a", "postgresql://me@host/db?password=***&schema=a"),
            ("host=localhost password=pw_SECRET dbname=x", "host=localhost password=*** dbname=x"),
            ("host=h password = 'a secret\\'s' dbname=x", "host=h password = *** dbname=x"),
            ("host=h PASSWORD=Secret sslpassword=key2", "host=h PASSWORD=*** sslpassword=***"),
            ("\"password=quoted\"", "\"password=***\""),
        ]
        for (text, expected) in cases {
            #expect(SecretRedaction.redact(text) == expected, "\(text)")
        }
    }

    @Test("known secrets are masked wherever they appear; text without secrets is unchanged")
    func knownSecretsAndUnchanged() {
        #expect(SecretRedaction.redact("invalid port number: \"pw/x\" near pw/x", secrets: ["pw/x"]) == "invalid port number: \"***\" near ***")
        // Too short to mask blindly: left to the patterns.
        #expect(SecretRedaction.redact("a b", secrets: ["a"]) == "a b")
        for plain in ["postgresql://postgres@127.0.0.1:5432/butler_test?schema=t_1", "sqlite:///tmp/x.sqlite3",
                      "password authentication failed for user \"u\"", "s3://bucket/prefix", "no secret here: a=b c@d"] {
            #expect(SecretRedaction.redact(plain) == plain, "\(plain)")
        }
    }
}
