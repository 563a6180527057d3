import Crypto
import CryptoExtras
import Foundation

/// A file locked with a passphrase, for carrying an export on a USB stick.
///
/// Layout (docs/transcript.md, "Encrypted exports"):
///
///     halqa-sealed 1\n
///     {"aead":"chacha20-poly1305","check":"…","kdf":"scrypt","n":131072,"p":1,"r":8,"salt":"…"}\n
///     nonce (12 bytes) · ciphertext · tag (16 bytes)
///
/// The key comes from the passphrase through scrypt (memory-hard: 128 MiB per guess), and the
/// contents are sealed with ChaCha20-Poly1305, with both header lines as associated data so
/// none of it can be changed unnoticed. `check` is 16 more bytes of scrypt's output: it tells
/// a wrong passphrase apart from a file altered after it was written, and costs an attacker
/// the same scrypt per guess as the AEAD tag would.
public enum SealedFile {
    static let magic = Array("halqa-sealed 1\n".utf8)
    /// The one parameter set this version writes and accepts, so a damaged or hostile header
    /// cannot make `open` allocate gigabytes.
    static let n = 1 << 17, r = 8, p = 1
    public static let minimumPassphraseCharacters = 10

    /// Whether the bytes are a sealed file (rather than a plain export).
    public static func isSealed(_ bytes: Data) -> Bool { bytes.starts(with: magic) }

    /// Seals `plaintext` under `passphrase`.
    public static func seal(_ plaintext: Data, passphrase: String) throws(MeetingError) -> Data {
        let passphrase = normalized(passphrase)
        guard passphrase.count >= minimumPassphraseCharacters else {
            throw MeetingError(
                .weakPassphrase,
                "Choose a passphrase of at least \(minimumPassphraseCharacters) characters. Four unrelated words are easy to remember and hard to guess. Nothing was written."
            )
        }
        let salt = randomBytes(16)
        let (key, check) = try derive(passphrase, salt: salt)
        let header: [String: JSONValue] = [
            "aead": .string("chacha20-poly1305"), "kdf": .string("scrypt"),
            "n": .integer(Int64(n)), "r": .integer(Int64(r)), "p": .integer(Int64(p)),
            "salt": .string(Data(salt).base64EncodedString()), "check": .string(Data(check).base64EncodedString()),
        ]
        let head = magic + JSONValue.object(header).canonicalBytes + [0x0A]
        do {
            let box = try ChaChaPoly.seal(plaintext, using: key, authenticating: head)
            return Data(head) + box.combined
        } catch {
            throw MeetingError(.storage, "Could not encrypt the export (\(error)). Nothing was written.")
        }
    }

    /// Opens a sealed file, or says whether the passphrase or the file is at fault.
    public static func open(_ bytes: Data, passphrase: String) throws(MeetingError) -> Data {
        let bytes = [UInt8](bytes)
        guard bytes.starts(with: magic) else {
            throw MeetingError(.damagedFile, "This is not an encrypted Halqa export: it does not start with \"halqa-sealed 1\".")
        }
        let rest = bytes[magic.count...]
        guard let end = rest.firstIndex(of: 0x0A), end - rest.startIndex <= 4096,
            case .object(let header)? = try? JSONValue(canonical: Array(rest[rest.startIndex..<end]))
        else {
            throw MeetingError(
                .damagedFile, "This encrypted export is damaged: its header cannot be read. Copy it again from where it was written.")
        }
        guard header["kdf"] == .string("scrypt"), header["aead"] == .string("chacha20-poly1305"),
            header["n"] == .integer(Int64(n)), header["r"] == .integer(Int64(r)), header["p"] == .integer(Int64(p)),
            case .string(let saltText)? = header["salt"], let salt = Data(base64Encoded: saltText), salt.count == 16,
            case .string(let checkText)? = header["check"], let stored = Data(base64Encoded: checkText), stored.count == 16
        else {
            throw MeetingError(
                .damagedFile,
                "This encrypted export was written by another version of Halqa or is damaged: its header is not one this version reads. Nothing was imported."
            )
        }
        let (key, check) = try derive(normalized(passphrase), salt: [UInt8](salt))
        guard check == [UInt8](stored) else {
            throw MeetingError(
                .wrongPassphrase,
                "That passphrase does not open this file. Check it (capitals, spaces and every character count) and try again. Nothing was imported."
            )
        }
        let head = Array(bytes[..<(end + 1)])
        do {
            let box = try ChaChaPoly.SealedBox(combined: bytes[(end + 1)...])
            return try ChaChaPoly.open(box, using: key, authenticating: head)
        } catch {
            throw MeetingError(
                .damagedFile,
                "The passphrase is right, but this file was changed or damaged after it was written, so none of it can be trusted. Nothing was imported; copy it again from where it was written."
            )
        }
    }

    /// The same passphrase typed on another machine may arrive in another Unicode form.
    static func normalized(_ passphrase: String) -> String {
        passphrase.precomposedStringWithCanonicalMapping
    }

    static func derive(_ passphrase: String, salt: [UInt8]) throws(MeetingError) -> (SymmetricKey, [UInt8]) {
        do {
            let derived = try KDF.Scrypt.deriveKey(
                from: Array(passphrase.utf8), salt: salt, outputByteCount: 48,
                rounds: n, blockSize: r, parallelism: p)
            let bytes = derived.withUnsafeBytes { Array($0) }
            return (SymmetricKey(data: bytes[0..<32]), Array(bytes[32..<48]))
        } catch {
            throw MeetingError(.storage, "Could not derive a key from the passphrase (\(error)); scrypt needs 128 MiB of free memory.")
        }
    }
}
