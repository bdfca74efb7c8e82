import Evy
import EvyZMQ
import Foundation
import Logging

/// CURVE on the links of the job system (`evy keygen` makes the key files): a role's own key
/// pair, the public keys of the roles it connects to, and, for the roles that serve (dispatcher,
/// collector), the public keys allowed to connect. With keys, traffic is encrypted and every
/// connection is authenticated during the handshake: a peer whose key is not allowed, or that has
/// no keys, never gets a message through (refusals are logged and counted by ``ZAPService``).
///
/// ```swift
/// var settings = Dispatcher.Configuration(dataDirectory: "data")
/// settings.keys = JobKeys(own: try JobKeys.keyPair(at: "dispatcher.key"),
///                         allowed: try JobKeys.publicKeys(in: "allowed"))
/// ```
/// A value; `Sendable`.
public struct JobKeys: Sendable {
    /// This role's key pair.
    public var own: ZMQCurve.KeyPair
    /// The dispatcher's public key: needed by workers, the collector and clients.
    public var dispatcher: String?
    /// The collector's public key: needed by workers and clients.
    public var collector: String?
    /// Public keys allowed to connect to a serving role (clients, workers, the collector).
    public var allowed: Set<String>

    /// Keys from known values.
    public init(own: ZMQCurve.KeyPair, dispatcher: String? = nil, collector: String? = nil, allowed: Set<String> = []) {
        self.own = own
        self.dispatcher = dispatcher
        self.collector = collector
        self.allowed = allowed
    }

    /// Makes `socket` a CURVE server with this role's key, admitting ``allowed`` (through the
    /// process's ``ZAPService``). Call before it binds.
    func serve(_ socket: ZMQSocket) throws {
        try ZAPService.allow(allowed)
        try socket.makeCurveServer(secretKey: own.secretKey)
    }

    /// Makes `socket` a CURVE client of the server whose public key is `server`. Call before it
    /// connects. Throws ``JobKeysError/missing(_:)`` if that key was not given.
    func connect(_ socket: ZMQSocket, to server: String?, _ role: String) throws {
        guard let server else { throw JobKeysError.missing("the \(role)'s public key") }
        try socket.makeCurveClient(serverPublicKey: server, keyPair: own)
    }

    // MARK: Key files

    /// The keys the executables' options name: this role's `.key` file (nil: no CURVE, and nil is
    /// returned), a directory of allowed `.pub` files (serving roles), and the dispatcher's and
    /// the collector's `.pub` files (connecting roles); empty strings count as not given. Throws ``JobKeysError`` for a file that
    /// cannot be read, or other options without a key file.
    public static func load(key: String?, allow: String? = nil, dispatcher: String? = nil, collector: String? = nil)
        throws -> JobKeys?
    {
        // An empty path is no path (the executables' options default to "").
        let (key, allow, dispatcher, collector) = (
            key.flatMap { $0.isEmpty ? nil : $0 }, allow.flatMap { $0.isEmpty ? nil : $0 },
            dispatcher.flatMap { $0.isEmpty ? nil : $0 }, collector.flatMap { $0.isEmpty ? nil : $0 }
        )
        guard let key else {
            if allow != nil || dispatcher != nil || collector != nil {
                throw JobKeysError.missing("this role's own key file (--curve-key) along with the others")
            }
            return nil
        }
        return JobKeys(
            own: try keyPair(at: key), dispatcher: try dispatcher.map(publicKey(at:)),
            collector: try collector.map(publicKey(at:)), allowed: try allow.map(publicKeys(in:)) ?? [])
    }

    /// Writes a new key pair: `base.key` (both keys, readable by its owner only) and `base.pub`
    /// (the public key, to give to peers). Returns the pair.
    @discardableResult
    public static func generate(at base: String) throws -> ZMQCurve.KeyPair {
        let pair = try ZMQCurve.generateKeyPair()
        let secret = "# evy CURVE key pair: keep it secret\npublic-key = \"\(pair.publicKey)\"\nsecret-key = \"\(pair.secretKey)\"\n"
        guard FileManager.default.createFile(atPath: base + ".key", contents: Data(secret.utf8), attributes: [.posixPermissions: 0o600])
        else { throw JobKeysError.unreadable(base + ".key", "cannot be written") }
        try Data("# evy CURVE public key\npublic-key = \"\(pair.publicKey)\"\n".utf8)
            .write(to: URL(fileURLWithPath: base + ".pub"))
        return pair
    }

    /// The key pair in a `.key` file written by ``generate(at:)``.
    public static func keyPair(at path: String) throws -> ZMQCurve.KeyPair {
        let fields = try Self.fields(at: path)
        guard let publicKey = fields["public-key"], let secretKey = fields["secret-key"] else {
            throw JobKeysError.unreadable(path, "needs public-key and secret-key")
        }
        return ZMQCurve.KeyPair(publicKey: publicKey, secretKey: secretKey)
    }

    /// The public key in a `.pub` (or `.key`) file.
    public static func publicKey(at path: String) throws -> String {
        guard let key = try fields(at: path)["public-key"] else { throw JobKeysError.unreadable(path, "no public-key") }
        return key
    }

    /// The public keys of every `.pub` file in `directory` (an allow-list, as CZMQ's zauth reads).
    public static func publicKeys(in directory: String) throws -> Set<String> {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".pub") }
        return Set(try names.map { try publicKey(at: directory + "/" + $0) })
    }

    private static func fields(at path: String) throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw JobKeysError.unreadable(path, "cannot be read")
        }
        var fields: [String: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            let value = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            guard value.utf8.count == 40 else { throw JobKeysError.unreadable(path, "\(parts[0]) is not a 40-character Z85 key") }
            fields[parts[0]] = value
        }
        return fields
    }
}

/// Why keys could not be used.
public enum JobKeysError: Error, Equatable, CustomStringConvertible {
    /// A key file is missing, unreadable or malformed.
    case unreadable(String, String)
    /// A key the link needs was not configured.
    case missing(String)

    public var description: String {
        switch self {
        case .unreadable(let path, let why): "key file \(path): \(why)"
        case .missing(let what): "CURVE needs \(what)"
        }
    }
}

/// The process's one ZAP handler (libzmq asks `inproc://zeromq.zap.01` of the shared context):
/// started by the first serving role with keys, its allow-list the union of every such role's
/// (a dispatcher and a collector in one process share it). Refusals are logged as warnings.
/// Used on the hub of the roles that start it.
public enum ZAPService {
    nonisolated(unsafe) private static var authenticator: ZAPAuthenticator?

    /// Connections accepted and refused so far.
    public static var counts: (accepted: Int, refused: Int) {
        (authenticator?.accepted ?? 0, authenticator?.refused ?? 0)
    }

    /// Stops the handler and frees its endpoint (for a process, or a test, that is done with
    /// keys); the next serving role with keys starts a new one.
    public static func stop() async {
        await authenticator?.stop()
        authenticator = nil
    }

    static func allow(_ keys: Set<String>) throws {
        if let authenticator {
            authenticator.allowedClientKeys.formUnion(keys)
            return
        }
        let started = try ZAPAuthenticator(allowing: keys)
        started.onRefusal = { key, address in
            Logger(label: "evy.zap").warning("refused a CURVE client \(key.isEmpty ? "without a key" : "with key \(key)") from \(address)")
        }
        started.start()
        authenticator = started
    }
}
