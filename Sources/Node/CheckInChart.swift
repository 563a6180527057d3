/// A check-in's counts as a bar chart the node draws itself (no script library): one bar per
/// option, in the scale's order, with its count above it. No words are baked in: the pages put
/// each option's picture and word under its bar, in the reader's language. Readable on a
/// 360-pixel phone and on a projector (it scales; strokes and digits are large).
enum CheckInChart {
    /// The bars' colours, from the first option to the last: calm, not a traffic light.
    static let colours = ["#8c4a3c", "#b7794f", "#9a9a86", "#5f8f7a", "#2f6f73"]

    static func svg(_ counts: [Int]) -> String {
        let width = 80
        let height = 200
        let top = 40
        let most = max(counts.max() ?? 0, 1)
        // Three options use the first, middle and last colours of five.
        let palette = counts.count == 3 ? [colours[4], colours[2], colours[0]] : Array(colours.prefix(counts.count))
        var out =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(width * counts.count) \(height)\" role=\"img\" class=\"chart\" preserveAspectRatio=\"xMidYMid meet\">"
        out +=
            "<line x1=\"0\" y1=\"\(height - 1)\" x2=\"\(width * counts.count)\" y2=\"\(height - 1)\" stroke=\"#444\" stroke-width=\"2\"/>"
        for (i, count) in counts.enumerated() {
            let bar = count == 0 ? 2 : max(6, (height - top) * count / most)
            let x = i * width + 12
            out +=
                "<rect x=\"\(x)\" y=\"\(height - bar)\" width=\"\(width - 24)\" height=\"\(bar)\" rx=\"4\" fill=\"\(palette[i % palette.count])\"/>"
            out +=
                "<text x=\"\(i * width + width / 2)\" y=\"\(height - bar - 10)\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"30\" font-weight=\"bold\" fill=\"#222\">\(count)</text>"
        }
        return out + "</svg>"
    }
}
