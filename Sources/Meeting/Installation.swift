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
    // Installed, only the root-owned share folder beside the program is read; the fallbacks
    // (seeds by #filePath, the pages' build folder) exist only where that folder does not.

    /// The folder of shipped decks (`.deck`) or programmes (`.programme`), if there is one.
    public static func folder(of kind: Kind) -> String? {
        guard let base = shareFolder ?? sourceSeeds else { return nil }
        let folder = base + "/" + kind.folderName
        return FileManager.default.fileExists(atPath: folder) ? folder : nil
    }

    public enum Kind: CaseIterable, Sendable {
        case deck, programme
        var folderName: String { self == .deck ? "decks" : "programmes" }
        public var fileExtension: String { self == .deck ? "deck" : "programme" }
    }

    /// The shipped files of a kind, by name (the file's name without its extension), sorted.
    public static func shipped(_ kind: Kind) -> [(name: String, path: String)] {
        guard let folder = folder(of: kind), let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        return names.compactMap { file in kind.name(of: file).map { ($0, folder + "/" + file) } }.sorted { $0.name < $1.name }
    }

    /// A deck or programme as given on the command line: a shipped one by its name
    /// (`real-man` or `real-man.deck`) first, so a file of that name in the current folder
    /// never stands in for it (`./real-man` names that file), else a file that exists; nil
    /// when neither.
    public static func resolve(_ given: String, as kind: Kind) -> String? {
        if !given.contains("/"), let shipped = shipped(kind).first(where: { $0.name == (kind.name(of: given) ?? given) }) {
            return shipped.path
        }
        var folder: ObjCBool = false
        return FileManager.default.fileExists(atPath: given, isDirectory: &folder) && !folder.boolValue ? given : nil
    }
}

extension Installation.Kind {
    /// `real-man` for `real-man.deck`; nil for a file of another kind.
    func name(of file: String) -> String? {
        file.hasSuffix("." + fileExtension) ? String(file.dropLast(fileExtension.count + 1)) : nil
    }
}
