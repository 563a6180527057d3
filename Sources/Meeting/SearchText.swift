/// Text as search reads it, so that what a person means is found however it was typed
/// (issue 18): Urdu and Pashto are typed on phones and laptops with Arabic, Urdu, Pashto and
/// Farsi keyboards, which give different code points for letters that look the same.
///
/// Folded, both in what is indexed and in what is asked:
/// - Arabic yeh ي and alef maksura ى, Farsi yeh ی and yeh with hamza ئ → ی; kaf ك → ک;
///   heh goal ہ, do-chashmi heh ھ (an Arabic keyboard types ه for both), heh ه, teh marbuta ة,
///   heh with yeh ۀ, heh goal with hamza ۂ → ه;
///   alef with hamza or madda أ إ آ ٱ → ا; waw with hamza ؤ → و; yeh barree with hamza ۓ → ے;
/// - vowel marks and Quranic annotation marks, tatweel ـ, zero-width joiner and non-joiner,
///   and the left-to-right, right-to-left and Arabic letter marks (U+200E, U+200F, U+061C)
///   are removed (embeddings and isolates, U+202A–202E and U+2066–2069, are not);
/// - Arabic-Indic and Eastern Arabic-Indic digits → 0–9.
///
/// ```swift
/// SearchText.fold("مـيرے والِد") == SearchText.fold("میرے والد")
/// ```
public enum SearchText {
    public static func fold(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            guard let folded = fold(scalar) else { continue }
            if folded.isASCII { out.append(UInt8(folded.value)) } else { out.append(contentsOf: folded.utf8) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// One scalar folded: the scalar search reads for it, or nil for one it leaves out.
    static func fold(_ scalar: Unicode.Scalar) -> Unicode.Scalar? {
        switch scalar.value {
        case 0x064A, 0x0649, 0x06CC, 0x0626: "\u{06CC}"
        case 0x0643: "\u{06A9}"
        case 0x06C1, 0x06BE, 0x0647, 0x0629, 0x06C0, 0x06C2: "\u{0647}"
        case 0x0623, 0x0625, 0x0622, 0x0671: "\u{0627}"
        case 0x0624: "\u{0648}"
        case 0x06D3: "\u{06D2}"
        // Vowel marks, superscript alef, Quranic marks, tatweel, joiners, direction marks.
        case 0x064B...0x065F, 0x0670, 0x06D6...0x06ED, 0x0640, 0x200C, 0x200D, 0x200E, 0x200F, 0x061C: nil
        case 0x0660...0x0669: Unicode.Scalar(scalar.value - 0x0660 + 0x30)!
        case 0x06F0...0x06F9: Unicode.Scalar(scalar.value - 0x06F0 + 0x30)!
        default: scalar
        }
    }
}

extension SearchText {
    /// `original` with « and » around the words that FTS5 marked (with U+0001 and U+0002) in
    /// `marked`, its folded form: folding keeps or drops each scalar, so every folded scalar
    /// is one of the original's. Cut to about `words` words around the first mark, with …
    /// where text was left out. What a person reads is what was written, not its folded form.
    public static func snippet(original: String, marked: String, words: Int = 16) -> String {
        // Where each folded scalar came from in the original.
        let source = Array(original.unicodeScalars)
        var from: [Int] = []
        for (i, scalar) in source.enumerated() where fold(scalar) != nil { from.append(i) }
        var opens = Set<Int>()
        var closes = Set<Int>()
        var k = 0
        for scalar in marked.unicodeScalars {
            switch scalar.value {
            case 1: if k < from.count { opens.insert(from[k]) }
            case 2:
                if k > 0, k - 1 < from.count {
                    // After the last marked scalar and the marks (vowels, joiners) that follow it.
                    var end = from[k - 1] + 1
                    while end < source.count, fold(source[end]) == nil, !source[end].properties.isWhitespace { end += 1 }
                    closes.insert(end)
                }
            default: k += 1
            }
        }
        var out = String.UnicodeScalarView()
        for i in 0...source.count {
            if closes.contains(i) { out.append("»") }
            if opens.contains(i) { out.append("«") }
            if i < source.count { out.append(source[i]) }
        }
        let tokens = String(out).split(whereSeparator: \.isWhitespace)
        guard tokens.count > words else { return tokens.joined(separator: " ") }
        let first = tokens.firstIndex { $0.contains("«") } ?? 0
        let start = max(0, min(first - words / 2, tokens.count - words))
        var cut = tokens[start..<(start + words)].joined(separator: " ")
        if cut.lastIndex(of: "«").map({ i in !cut[i...].contains("»") }) == true { cut += "»" }
        return (start > 0 ? "… " : "") + cut + (start + words < tokens.count ? " …" : "")
    }
}
