// The decoders of untrusted input, under a coverage-guided fuzzer.
//
// Built by scripts/fuzz with HALQA_FUZZ=1 (Package.swift: `-sanitize=fuzzer` on Meeting and
// here, and FUZZING here): libFuzzer then calls `LLVMFuzzerTestOneInput` with inputs it
// mutates towards new code paths, and any trap (a failed property of `DecoderProperties`, an
// index out of range, an overflow) is a crash that libFuzzer saves. HALQA_FUZZ_TARGET picks
// the decoder: peer-message, event, deck or transcript (or self-check, a planted crash).
//
// `halqa-fuzz TARGET FILE...` runs the given inputs once each, as the regression test does
// with every input the fuzzers kept: built normally (`swift build`), and also as the fuzzer
// that scripts/fuzz leaves in the build folder.
import Foundation
import Meeting

enum Target: String, CaseIterable {
    case peerMessage = "peer-message"
    case event, deck, transcript
    /// A planted crash, which scripts/fuzz runs first: it shows that a trap reaches libFuzzer
    /// (which saves the input) and not the Swift runtime's backtracer (which saves nothing).
    case selfCheck = "self-check"

    static let plantedCrash = Array("halqa-fuzz self-check".utf8)

    func check(_ bytes: [UInt8]) {
        switch self {
        case .peerMessage: DecoderProperties.peerMessage(bytes)
        case .event: DecoderProperties.event(bytes)
        case .deck: DecoderProperties.deck(bytes)
        case .transcript: DecoderProperties.transcript(bytes)
        case .selfCheck: precondition(bytes != Target.plantedCrash, "the self-check's planted crash")
        }
    }
}

#if FUZZING
    nonisolated(unsafe) let chosen: Target = {
        let name = ProcessInfo.processInfo.environment["HALQA_FUZZ_TARGET"] ?? ""
        guard let target = Target(rawValue: name) else {
            fatalError("Set HALQA_FUZZ_TARGET to one of: \(Target.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        return target
    }()

    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        chosen.check(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }

    @_silgen_name("LLVMFuzzerRunDriver")
    func runDriver(
        _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    // SwiftPM names an executable's entry point after its module; libFuzzer's driver runs from
    // it, unless the first argument names a target (the regression test's replay).
    @_cdecl("halqa_fuzz_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        if argc > 1, let first = argv?[1], Target(rawValue: String(cString: first)) != nil {
            replay(Array(CommandLine.arguments.dropFirst()))
        }
        var count = argc
        var values = argv
        return runDriver(&count, &values) { data, size in fuzzOne(data, size) }
    }
#else
    @main
    struct Replay {
        static func main() { replay(Array(CommandLine.arguments.dropFirst())) }
    }
#endif

/// `TARGET FILE...`: checks each file's bytes once, then exits.
func replay(_ arguments: [String]) -> Never {
    guard let name = arguments.first, let target = Target(rawValue: name) else {
        FileHandle.standardError.write(Data("usage: halqa-fuzz \(Target.allCases.map(\.rawValue).joined(separator: "|")) FILE...\n".utf8))
        exit(2)
    }
    for path in arguments.dropFirst() {
        guard let data = FileManager.default.contents(atPath: path) else {
            FileHandle.standardError.write(Data("halqa-fuzz: cannot read \(path)\n".utf8))
            exit(1)
        }
        target.check(Array(data))
    }
    print("\(arguments.count - 1) inputs checked")
    exit(0)
}
