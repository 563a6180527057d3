/// Letters people can read aloud and compare: 32 of them, without 0/O and 1/I.
enum Base32 {
    static let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")

    /// The first `count` letters of `bytes`, five bits each, most significant first.
    static func letters(of bytes: some Sequence<UInt8>, count: Int) -> [Character] {
        var bits = 0
        var value = 0
        var letters: [Character] = []
        for byte in bytes where letters.count < count {
            value = (value << 8 | Int(byte)) & 0xFFFF
            bits += 8
            while bits >= 5, letters.count < count {
                bits -= 5
                letters.append(alphabet[(value >> bits) & 31])
            }
        }
        return letters
    }
}
