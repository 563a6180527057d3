import Foundation

/// What Halqa ships beside its program: decks, programmes and the web pages.
///
/// Installed from the package (docs/packaging.md), the program is `PREFIX/bin/halqa` and
/// these are in `PREFIX/share/halqa` (`/usr/share/halqa`); the folder is found from the
/// running program's own path, so a package unpacked anywhere (`dpkg-deb -x`) finds its own.
/// Built from source, there is no such folder and the source tree's `seeds/` is used.
public enum Installation {
    /// `PREFIX/share/halqa` beside the running program, when it exists.
    public static let shareFolder: String? = {
        guard let program = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        let prefix = ((program as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
        let share = prefix + "/share/halqa"
        return FileManager.default.fileExists(atPath: share) ? share : nil
    }()

    /// The source tree's `seeds/` folder, for a program built from source (nil once installed).
    static let sourceSeeds: String? = {
        guard shareFolder == nil else { return nil }
        // REPOSITORY/Sources/Meeting/Installation.swift → REPOSITORY/seeds.
        let sources = ((#filePath as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
        let seeds = (sources as NSString).deletingLastPathComponent + "/seeds"
        return FileManager.default.fileExists(atPath: seeds + "/decks") ? seeds : nil
    }()

    /// The shipped web pages' folder when installed (a build from source serves its module's).
    public static var pagesFolder: String? { shareFolder.map { $0 + "/pages" } }

    /// The folder of shipped decks (`.deck`) or programmes (`.programme`), if there is one.
    public static func folder(of kind: Kind) -> String? {
        guard let base = shareFolder ?? sourceSeeds else { return nil }
        let folder = base + "/" + kind.folderName
        return FileManager.default.fileExists(atPath: folder) ? folder : nil
    }

    public enum Kind: Sendable {
        case deck, programme
        var folderName: String { self == .deck ? "decks" : "programmes" }
        public var fileExtension: String { self == .deck ? "deck" : "programme" }
    }

    /// The shipped files of a kind, by name (the file's name without its extension), sorted.
    public static func shipped(_ kind: Kind) -> [(name: String, path: String)] {
        guard let folder = folder(of: kind), let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        return names.filter { $0.hasSuffix("." + kind.fileExtension) }.sorted().map {
            (String($0.dropLast(kind.fileExtension.count + 1)), folder + "/" + $0)
        }
    }

    /// A deck or programme as given on the command line: a file that exists, else a shipped
    /// one by its name (`real-man` or `real-man.deck`); nil when neither.
    public static func resolve(_ given: String, as kind: Kind) -> String? {
        if FileManager.default.fileExists(atPath: given) { return given }
        guard !given.contains("/") else { return nil }
        let name = given.hasSuffix("." + kind.fileExtension) ? String(given.dropLast(kind.fileExtension.count + 1)) : given
        return shipped(kind).first { $0.name == name }?.path
    }
}
