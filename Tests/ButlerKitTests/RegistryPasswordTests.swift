import Testing
@testable import ButlerKit

/// The password is taken out of a PostgreSQL URL, wherever libpq would read it, and nothing else changes.
@Suite("registry URL passwords")
struct RegistryPasswordTests {
    @Test("user:password@, ?password= and &password= are removed; URLs without a password are left alone")
    func withoutPassword() {
        #expect(PostgresURL.withoutPassword("postgresql://me:secret@db.example.org:5432/butler?schema=a") == "postgresql://me@db.example.org:5432/butler?schema=a")
        #expect(PostgresURL.withoutPassword("postgres://me:p%40ss@host/db") == "postgres://me@host/db")
        #expect(PostgresURL.withoutPassword("postgresql://me@host/db?password=secret") == "postgresql://me@host/db")
        #expect(PostgresURL.withoutPassword("postgresql://me@host/db?schema=a&password=secret&sslmode=require") == "postgresql://me@host/db?schema=a&sslmode=require")
        #expect(PostgresURL.withoutPassword("postgresql://me@host/db?schema=a") == nil)
        #expect(PostgresURL.withoutPassword("postgresql://host:5432/db") == nil)
        #expect(PostgresURL.withoutPassword("sqlite:///tmp/x:y@z") == nil)
        #expect(PostgresURL.mask("postgresql://me@host/db?password=secret&schema=a") == "postgresql://me@host/db?password=***&schema=a")
    }

    @Test("every reading of a URL's password is a secret to mask; mask takes all of a password holding '@'")
    func passwordsOfURL() {
        #expect(Set(PostgresURL.passwords(in: "postgresql://u:p%40ss@host/db")) == ["p%40ss", "p@ss"])
        #expect(Set(PostgresURL.passwords(in: "postgresql://u:a1@b2@host/db?schema=s&password=q%2F1")) == ["a1", "a1@b2", "q%2F1", "q/1"])
        #expect(PostgresURL.passwords(in: "postgresql://u@host/db?schema=s").isEmpty)
        #expect(PostgresURL.mask("postgresql://u:p@ss@[::1/db") == "postgresql://u:***@[::1/db")
        #expect(PostgresURL.mask("host=h password=secret") == "host=h password=***")
    }
}
