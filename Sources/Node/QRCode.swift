import CQREncode

/// A QR code, made by libqrencode, as a square of dark and light modules.
public struct QRCode: Sendable {
    public let size: Int
    private let modules: [Bool]

    /// Encodes `text` (a URL) with medium error correction, or nil if it is too long.
    public init?(_ text: String) {
        // libqrencode returns a malloc'd struct whose `data` holds one byte per module; the
        // lowest bit says dark. Everything is copied out before it is freed.
        guard let code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1) else { return nil }
        defer { QRcode_free(code) }
        let width = Int(code.pointee.width)
        let data = UnsafeBufferPointer(start: code.pointee.data, count: width * width)
        size = width
        modules = data.map { $0 & 1 == 1 }
    }

    public func isDark(x: Int, y: Int) -> Bool {
        x >= 0 && y >= 0 && x < size && y < size && modules[y * size + x]
    }

    /// The code drawn with Unicode half blocks, two rows per line, with a quiet zone, for a
    /// terminal (dark text on a light background or the reverse both scan: the blocks are
    /// drawn as light-on-dark like most terminals).
    public var terminalText: String {
        let quiet = 2
        var lines: [String] = []
        for y in stride(from: -quiet, to: size + quiet, by: 2) {
            var line = ""
            for x in -quiet..<(size + quiet) {
                switch (isDark(x: x, y: y), isDark(x: x, y: y + 1)) {
                case (false, false): line += "█"
                case (true, false): line += "▄"
                case (false, true): line += "▀"
                case (true, true): line += " "
                }
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// The code as an SVG image that scales to any size.
    public var svg: String {
        let quiet = 4
        let total = size + 2 * quiet
        var path = ""
        for y in 0..<size {
            var x = 0
            while x < size {
                if isDark(x: x, y: y) {
                    var run = 1
                    while isDark(x: x + run, y: y) { run += 1 }
                    path += "M\(x + quiet) \(y + quiet)h\(run)v1h-\(run)z"
                    x += run
                } else {
                    x += 1
                }
            }
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(total) \(total)" shape-rendering="crispEdges">\
            <rect width="\(total)" height="\(total)" fill="#fff"/><path d="\(path)" fill="#000"/></svg>
            """
    }
}
