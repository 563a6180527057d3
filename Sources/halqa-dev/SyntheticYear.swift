import ArgumentParser
import Foundation
import Meeting
import Synchronization

/// A synthetic year of the alliance, as exports on facilitators' USB sticks: `groups` groups
/// following the MOVE programme week after week, each session signed and revealed as a real
/// one is (the events a live meeting makes, made directly), with reflections in English,
/// Urdu and Pashto from a pool of fictional sentences. One folder per group, one JSON export
/// per session: what `halqa archive import` collects.
struct SyntheticYear: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synthetic-year", abstract: "Write a fictional year of many groups' sessions as JSON exports, one folder per group.")

    @Option(help: "Where to write (a folder per group).") var out: String
    @Option(help: "Groups.") var groups = 180
    @Option(help: "Sessions per group.") var sessions = 50
    @Option(help: "Men per session (each writes to every prompt).") var men = 15
    @Option(help: "The programme the groups follow.") var programme = "seeds/programmes/move.programme"

    func run() async throws {
        let course = try ProgrammeParser.parse(fileAt: programme).get()
        let start = ContinuousClock.now
        let made = try SyntheticYear.write(course, to: out, groups: groups, sessions: sessions, men: men)
        emit(
            String(
                format: "wrote %d sessions (%d events, %d reflections and answers) in %.1f s to %@", made.sessions, made.events,
                made.reflections, (ContinuousClock.now - start).seconds, out))
    }

    struct Made: Sendable {
        var sessions = 0
        var events = 0
        var reflections = 0
    }

    /// Writes the year; sessions are made on every core.
    static func write(_ course: Programme, to out: String, groups: Int, sessions: Int, men: Int) throws -> Made {
        let made = Mutex(Made())
        let failure = Mutex<(any Error)?>(nil)
        // 2025-12-01 at 16:00 UTC: each group meets on its own weekday and hour, once a week.
        let yearStart: Int64 = 1_764_604_800_000
        DispatchQueue.concurrentPerform(iterations: groups) { g in
            do {
                let label = String(format: "G-%03d", g + 1)
                let folder = (out as NSString).appendingPathComponent(label)
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                var generator = SeededGenerator(seed: UInt64(g + 1))
                for k in 0..<sessions {
                    let week = k % course.weeks.count + 1
                    let at = yearStart + Int64(g % 7) * 86_400_000 + Int64(g % 5) * 3_600_000 + Int64(k) * 7 * 86_400_000
                    let state = try session(
                        course, group: label, week: week, at: at, men: men, language: [Language.ps, .ur, .en][g % 3],
                        using: &generator)
                    let data = Transcript(state).json()
                    try data.write(
                        to: URL(
                            fileURLWithPath: (folder as NSString).appendingPathComponent(String(format: "week-%02d-%02d.json", week, k + 1))
                        ))
                    let reflections = state.allEvents.filter { if case .reflectionSubmitted = $0.body { true } else { false } }.count
                    made.withLock {
                        $0.sessions += 1
                        $0.events += state.allEvents.count
                        $0.reflections += reflections
                    }
                }
            } catch {
                failure.withLock { $0 = error }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return made.withLock { $0 }
    }

    /// One closed session of `week`: every prompt opened, written to (or answered) by every
    /// man, revealed in a shuffled batch and closed; some resonance; a note.
    static func session(
        _ course: Programme, group: String, week: Int, at: Int64, men: Int, language: Language, using generator: inout SeededGenerator
    ) throws -> SessionState {
        var deck = course.weeks[week - 1].deck
        deck.language = language
        let facilitator = SigningKey()
        let room = SigningKey()
        var clock = 1
        var time = at
        func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &generator) } }
        let created = Event.facilitator(
            .sessionCreated(
                SessionCreated(
                    title: deck.title.preferring(language), deck: deck, minimumToReveal: 3, roomKey: room.publicKey, nonce: bytes(16),
                    programme: ProgrammePlace(title: course.title, group: group, week: week, weeks: course.weeks.count))),
            session: nil, by: facilitator, at: time, clock: clock)
        var events = [created]
        func act(_ body: EventBody) {
            clock += 1
            time += 60_000
            events.append(Event.facilitator(body, session: created.id, by: facilitator, at: time, clock: clock))
        }
        for (i, prompt) in deck.prompts.enumerated() {
            act(.promptOpened(prompt: i))
            var ids: [EventID] = []
            for _ in 0..<men {
                let text =
                    prompt.scale.map { scale in String(Int.random(in: 0..<scale.options, using: &generator)) }
                    ?? Self.sentence(language, using: &generator)
                let event = Event.participant(
                    .reflectionSubmitted(prompt: i, text: text, nonce: bytes(16)), session: created.id, roomKey: room)
                events.append(event)
                ids.append(event.id)
            }
            act(.reflectionsRevealed(prompt: i, order: ids.shuffled(using: &generator)))
            if !prompt.isCheckIn {
                for _ in 0..<(men / 3) {
                    let id = ids.randomElement(using: &generator)!
                    events.append(Event.participant(.resonated(reflection: id, nonce: bytes(16)), session: created.id, roomKey: room))
                }
            }
            act(.promptClosed(prompt: i))
        }
        act(.noteWritten(prompt: nil, text: "Synthetic session \(group) week \(week): fictional data for benchmarks."))
        act(.sessionClosed)
        return try SessionState(events: events, verifySignatures: false)
    }

    /// A fictional reflection in `language` (one man in three writes in another of the three).
    static func sentence(_ language: Language, using generator: inout SeededGenerator) -> String {
        let chosen = Int.random(in: 0..<3, using: &generator) == 0 ? Language.allCases.randomElement(using: &generator)! : language
        let pool = sentences[chosen]!
        let first = pool.randomElement(using: &generator)!
        let second = pool.randomElement(using: &generator)!
        return first == second ? first : first + " " + second
    }

    static let sentences: [Language: [String]] = [
        .en: [
            "My father never hit us, but his silence frightened me more than shouting.",
            "I learned that anger is a man's right and calm is a woman's duty.",
            "When I am angry I now leave the room and come back after a walk.",
            "My brother asked me for help and I laughed at him. I regret it.",
            "In our village a man who cries is called weak, so I cried alone.",
            "I want my son to see me listen to his mother.",
            "Honour was the word my uncle used when he wanted us to obey.",
            "This week I spoke to my wife before deciding about the money.",
            "I was afraid the others would laugh, but they listened.",
            "Violence was normal in my school; the teacher beat us every day.",
            "I felt my chest go tight and my hands shake before I shouted.",
            "A friend told me he is ashamed of how he treated his sister.",
        ],
        .ur: [
            "والد صاحب غصے میں برتن توڑ دیتے تھے۔ میں نے سیکھا کہ غصہ طاقت ہے۔",
            "میرے چچا کہتے تھے کہ مرد وہ ہے جو گھر کو قابو میں رکھے۔",
            "اس ہفتے میں نے پیسوں کا فیصلہ کرنے سے پہلے اپنی بیوی سے بات کی۔",
            "جب مجھے غصہ آتا ہے تو میں اب کمرے سے باہر چلا جاتا ہوں۔",
            "ہمارے گاؤں میں رونے والے مرد کو کمزور کہا جاتا ہے۔",
            "میں چاہتا ہوں کہ میرا بیٹا مجھے اپنی ماں کی بات سنتے ہوئے دیکھے۔",
            "عزت کا لفظ ہمیں چپ کرانے کے لیے استعمال ہوتا تھا۔",
            "مجھے ڈر تھا کہ سب ہنسیں گے، لیکن انہوں نے میری بات سنی۔",
            "اسکول میں استاد ہر روز ہمیں مارتے تھے، یہ عام بات تھی۔",
            "میرے دوست نے بتایا کہ اسے اپنی بہن کے ساتھ اپنے سلوک پر شرم ہے۔",
        ],
        .ps: [
            "زما پلار به په غوسه کې لوښي ماتول. ما زده کړل چې غوسه زور دی.",
            "زما تره به ویل چې سړی هغه دی چې کور په واک کې ولري.",
            "په دې اونۍ کې مې د پیسو له پرېکړې مخکې له خپلې مېرمنې سره خبرې وکړې.",
            "کله چې غوسه شم، اوس له کوټې ووځم او وروسته بېرته راشم.",
            "زموږ په کلي کې هغه سړی چې ژاړي کمزوری بلل کېږي.",
            "غواړم چې زوی مې ووینی چې زه د هغه د مور خبرو ته غوږ نیسم.",
            "عزت هغه کلمه وه چې زموږ د چوپولو لپاره کارېده.",
            "ما ویره درلوده چې نور به وخاندي، خو دوی زما خبرې واورېدې.",
            "په ښوونځي کې ښوونکي هره ورځ وهلو، دا عادي خبره وه.",
            "زما ملګري وویل چې د خپلې خور سره د خپل چلند له امله شرمېږي.",
        ],
    ]
}

/// A small deterministic generator (SplitMix64): the same texts, answers, times and reveal
/// orders every run (keys and ids differ: the keys are drawn from the system).
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
