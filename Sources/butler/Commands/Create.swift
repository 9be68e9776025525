import ArgumentParser
import Foundation
import ButlerKit
import Logging

extension ButlerCommand {
    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an empty repository: butler.yaml, the registry (SQLite by default) and the datastore root.",
            discussion: """
                Refuses to touch a folder that already holds a repository. The repository gets a stable identity: a new
                UUID and a name (--name, by default the folder's name), shown by config-dump and recorded with every
                dataset copied from it.
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument

        @Option(name: .long, help: ArgumentHelp("YAML configuration merged over the defaults.", valueName: "file"))
        var seedConfig: String?

        @Option(name: .long, help: ArgumentHelp("YAML dimension universe to use instead of the default (Rubin's, version 8).", valueName: "file"))
        var dimensionConfig: String?

        @Flag(name: .long, help: "Let the seed config replace registry.db and datastore.root, which otherwise stay the repository's own.")
        var override = false

        @Option(name: .long, help: ArgumentHelp("Registry database: postgresql://[user@]host[:port]/dbname[?schema=NAME] for a registry shared by many machines (each repository in its own schema; a password in the URL is not stored in butler.yaml unless --store-password; later commands read it from PGPASSWORD, ~/.pgpass or a service file). Default: the repository's own SQLite file.", valueName: "url"))
        var registry: String?

        @Flag(name: .long, help: "Keep a password given in the registry URL (--registry or the seed config's registry.db) in butler.yaml, which is then written readable by its owner only (mode 0600). By default the password is used to create the registry but not stored; later commands find it in PGPASSWORD, ~/.pgpass or a service file.")
        var storePassword = false

        @Option(name: .long, help: ArgumentHelp("Where the files live: s3://BUCKET[/PREFIX] for an S3 bucket (an existing bucket, an empty prefix; the endpoint from S3_ENDPOINT_URL, credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE and ~/.aws/credentials, region from AWS_REGION), or a folder. Default: the repository's own datastore folder.", valueName: "uri"))
        var datastore: String?

        @Option(name: .long, help: ArgumentHelp("The repository's name (printable, at most 64 characters; default: the folder's name).", valueName: "name"))
        var name: String?

        @Flag(name: .long, help: "Accepted, as Rubin's: butler.yaml always holds the full configuration, defaults included.")
        var standalone = false

        @Option(name: [.customShort("f"), .long], help: ArgumentHelp("Also write the repository's configuration to this file (REPO/butler.yaml is always written: it is what makes REPO a repository).", valueName: "file"))
        var outfile: String?

        func run() throws {
            let path = try RepositoryIndex.localPath(ofURI: repository.repo) ?? repository.repo
            if let outfile, FileManager.default.fileExists(atPath: outfile) {
                throw ButlerError(.alreadyExists, "\(outfile) exists (--outfile); refusing to overwrite it")
            }
            let butler = try Butler.create(at: path, seedConfig: seedConfig, dimensionConfig: dimensionConfig,
                                           override: override, registry: registry, storePassword: storePassword, datastore: datastore, name: name,
                                           note: { writeStandardError("butler: note: \($0)\n") },
                                           logger: Logger(label: "butler"))
            if let outfile {
                do {
                    try FileManager.default.copyItem(atPath: butler.root.appendingPathComponent("butler.yaml").path, toPath: outfile)
                } catch {
                    throw ButlerError(.io, "cannot write \(outfile) (--outfile): \(error.localizedDescription)")
                }
            }
            emit("Created repository \(butler.root.path)\n")
        }
    }

    struct ConfigDump: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "config-dump",
            abstract: "Print the full configuration of a repository (butler.yaml over the defaults, and the dimension universe).")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var repository: RepositoryArgument

        @Option(name: [.customShort("s"), .long], help: ArgumentHelp("Print only this part, e.g. .datastore.root or registry.", valueName: "key"))
        var subset: String?

        @Option(name: [.customShort("p"), .long], parsing: .singleValue, help: ArgumentHelp(
            "A folder of configuration overrides, as Rubin's (repeatable): they override defaults only, and butler.yaml holds every value, so they change nothing; a folder that does not exist is an error.",
            valueName: "folder"))
        var searchpath: [String] = []

        @Option(name: .long, help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file"))
        var file: String?

        func validate() throws {
            for folder in searchpath {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
                    throw ValidationError("--searchpath \(folder): no such folder")
                }
            }
        }

        func run() throws {
            let butler = try Butler(repository: repository.repo)
            let text = try butler.configDump(subset: subset)
            if let file {
                do {
                    try text.write(toFile: file, atomically: true, encoding: .utf8)
                } catch {
                    throw ButlerError(.io, "cannot write \(file): \(error.localizedDescription)")
                }
            } else {
                emit(text)
            }
        }
    }
}
