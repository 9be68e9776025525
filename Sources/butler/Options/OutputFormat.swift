import ArgumentParser

/// How query commands print their results.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    /// Aligned text columns, for people.
    case table
    /// A JSON array of objects, for scripts (a stable contract, see the README).
    case json
    /// Comma-separated values with a header line.
    case csv
}

/// The `--format` option of query commands.
struct FormatOption: ParsableArguments {
    @Option(name: .long, help: "Output format: table, json or csv.")
    var format: OutputFormat = .table
}
