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
}
