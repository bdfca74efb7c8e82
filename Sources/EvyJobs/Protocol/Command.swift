/// The command byte of frame 1, one per ``Message`` case.
enum Command: UInt8, CaseIterable, Sendable {
    case submit = 0x01
    case submitted = 0x02
    case cancel = 0x03
    case cancelled = 0x04
    case query = 0x05
    case answer = 0x06
    case deadLetters = 0x07
    case ready = 0x10
    case welcome = 0x11
    case job = 0x12
    case credit = 0x13
    case failed = 0x14
    case abort = 0x15
    case giveBack = 0x16
    case drain = 0x17
    case heartbeat = 0x18
    case done = 0x19
    case doneAcknowledged = 0x1A
    case record = 0x1B
    case result = 0x20
    case recorded = 0x21
    case progress = 0x22
    case wait = 0x30
    case outcome = 0x31
    case progressNote = 0x32
    case error = 0x7F

    /// The name in the protocol's documentation: `SUBMIT`, `DEAD-LETTERS`, `DONE-ACK`.
    var name: String {
        switch self {
        case .deadLetters: "DEAD-LETTERS"
        case .giveBack: "GIVE-BACK"
        case .doneAcknowledged: "DONE-ACK"
        case .progressNote: "PROGRESS-NOTE"
        default: "\(self)".uppercased()
        }
    }

    /// Whether the message has a fourth frame, its payload.
    var hasPayload: Bool {
        switch self {
        case .submit, .job, .result, .outcome, .answer: true
        default: false
        }
    }

    /// Whether the header's first field is a client's request id (u64).
    var startsWithRequest: Bool {
        switch self {
        case .submit, .submitted, .cancel, .cancelled, .query, .answer, .deadLetters, .wait, .outcome, .progressNote,
            .error:
            true
        default: false
        }
    }
}

extension Message {
    /// The command byte this message travels with.
    var command: Command {
        switch self {
        case .submit: .submit
        case .submitted: .submitted
        case .cancel: .cancel
        case .cancelled: .cancelled
        case .query: .query
        case .answer: .answer
        case .deadLetters: .deadLetters
        case .ready: .ready
        case .welcome: .welcome
        case .job: .job
        case .credit: .credit
        case .failed: .failed
        case .abort: .abort
        case .giveBack: .giveBack
        case .drain: .drain
        case .heartbeat: .heartbeat
        case .done: .done
        case .doneAcknowledged: .doneAcknowledged
        case .record: .record
        case .result: .result
        case .recorded: .recorded
        case .progress: .progress
        case .wait: .wait
        case .outcome: .outcome
        case .progressNote: .progressNote
        case .error: .error
        }
    }

    /// The fourth frame, for the messages that have one.
    var payload: [UInt8]? {
        switch self {
        case .submit(_, _, _, let payload), .job(_, _, _, let payload, _), .result(_, _, _, _, let payload, _),
            .outcome(_, _, _, _, _, let payload), .answer(_, let payload):
            payload
        default: nil
        }
    }
}
