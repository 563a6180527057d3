import Foundation

/// Opens a link in this laptop's browser with xdg-open (`halqa host --open`), and says what
/// to do when it cannot.
///
/// The console's link carries its secret, and a program's arguments are readable by every
/// account on the laptop for as long as it runs (a browser started by xdg-open runs all
/// meeting). So the link goes into a page only this user can read, which sends the browser
/// on to it at once; xdg-open and the browser are given only that page's path. The page is
/// deleted two minutes later.
enum Browser {
    static func open(_ link: String, what: String) {
        let environment = ProcessInfo.processInfo.environment
        let folder = environment["XDG_RUNTIME_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? NSTemporaryDirectory()
        let page = (folder as NSString).appendingPathComponent("halqa-open-\(UUID().uuidString).html")
        let attribute = link.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
        let html = "<!doctype html><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0;url=\(attribute)\"><title>Halqa</title>"
        guard FileManager.default.createFile(atPath: page, contents: Data(html.utf8), attributes: [.posixPermissions: 0o600]) else {
            cannot(open: link, what, "could not write a page for it in \(folder)")
            return
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + 120) { try? FileManager.default.removeItem(atPath: page) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["xdg-open", page]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        // xdg-open may stay until the browser closes; only a failure is reported.
        process.terminationHandler = { ended in
            switch ended.terminationStatus {
            case 0: break
            case 127: cannot(open: link, what, "xdg-open is not installed; it comes with Debian's xdg-utils")
            case 3: cannot(open: link, what, "xdg-open found no browser; Debian's chromium or firefox-esr is one")
            default: cannot(open: link, what, "xdg-open ended with status \(ended.terminationStatus)")
            }
        }
        do { try process.run() } catch { cannot(open: link, what, error.localizedDescription) }
    }

    private static func cannot(open link: String, _ what: String, _ why: String) {
        FileHandle.standardOutput.put(
            Data(
                "\nCould not open a browser on this laptop (\(why)).\nOpen \(what) yourself, in a browser on this laptop:\n    \(link)\n"
                    .utf8))
    }
}
