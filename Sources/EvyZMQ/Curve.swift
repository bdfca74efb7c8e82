import CZeroMQ
import Evy

/// CURVE security (ZeroMQ's CurveZMQ): key pairs, server and client sockets.
///
/// ```swift
/// let server = try ZMQCurve.generateKeyPair()
/// let client = try ZMQCurve.generateKeyPair()
/// try router.makeCurveServer(secretKey: server.secretKey)
/// try dealer.makeCurveClient(serverPublicKey: server.publicKey, keyPair: client)
/// ```
public enum ZMQCurve {
    /// A CURVE key pair, each key Z85-encoded (40 characters).
    public struct KeyPair: Sendable, Hashable {
        /// The public key: give it to the peers.
        public let publicKey: String
        /// The secret key: keep it to this socket.
        public let secretKey: String

        /// A pair from known keys (Z85, 40 characters each), as read from a key file.
        public init(publicKey: String, secretKey: String) {
            self.publicKey = publicKey
            self.secretKey = secretKey
        }
    }

    /// Whether this libzmq was built with CURVE.
    public static var isAvailable: Bool { zmq_has("curve") == 1 }

    /// Makes a new key pair.
    public static func generateKeyPair() throws -> KeyPair {
        var publicKey = [CChar](repeating: 0, count: 41)
        var secretKey = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicKey, &secretKey) == 0 else { throw ZMQError("zmq_curve_keypair") }
        return KeyPair(publicKey: text(publicKey), secretKey: text(secretKey))
    }

    /// The Z85 text of 32 key bytes.
    static func z85(_ key: [UInt8]) -> String {
        var encoded = [CChar](repeating: 0, count: 41)
        _ = key.withUnsafeBufferPointer { zmq_z85_encode(&encoded, $0.baseAddress, $0.count) }
        return text(encoded)
    }

    private static func text(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension ZMQSocket {
    /// Makes this socket a CURVE server with `secretKey` (Z85). Clients must know its public key.
    public func makeCurveServer(secretKey: String) throws {
        try setOption(.curveServer, true)
        try setOption(.curveSecretKey, secretKey)
    }

    /// Makes this socket a CURVE client of a server whose public key is `serverPublicKey`.
    public func makeCurveClient(serverPublicKey: String, keyPair: ZMQCurve.KeyPair) throws {
        try setOption(.curveServerKey, serverPublicKey)
        try setOption(.curvePublicKey, keyPair.publicKey)
        try setOption(.curveSecretKey, keyPair.secretKey)
    }
}

/// A green ZAP handler (ZeroMQ's authentication protocol, RFC 27): CURVE clients whose public key
/// is on the allow-list connect, others are refused during the handshake — so a dispatcher can
/// refuse unknown workers. One per context; it answers on `inproc://zeromq.zap.01`.
///
/// ```swift
/// let auth = try ZAPAuthenticator(allowing: [workerKeys.publicKey])
/// auth.start()
/// ```
/// Hub-confined.
public final class ZAPAuthenticator: @unchecked Sendable {
    /// Client public keys (Z85) allowed in.
    public var allowedClientKeys: Set<String>
    private let socket: ZMQSocket
    private var handler: GreenThread<Void>?
    /// Requests answered: accepted and refused.
    public private(set) var accepted = 0, refused = 0
    /// Told of each refusal: the client's key (Z85, empty if it had none) and its address.
    public var onRefusal: ((_ key: String, _ address: String) -> Void)?

    /// Binds the ZAP endpoint of `context`.
    public init(allowing keys: Set<String>, context: ZMQContext = .shared) throws {
        allowedClientKeys = keys
        socket = try ZMQSocket(.rep, context: context)
        try socket.setLinger(.zero)
        try socket.bind("inproc://zeromq.zap.01")
    }

    /// Starts answering authentication requests in a green thread.
    public func start() {
        guard handler == nil else { return }
        handler = spawn(name: "ZAP handler") { [self] in
            while true {
                let request = try await socket.receiveMultipart()
                try await socket.sendMultipart(reply(to: request))
            }
        }
    }

    private func reply(to request: [[UInt8]]) -> [[UInt8]] {
        // version, request id, domain, address, routing id, mechanism, credentials...
        guard request.count >= 6, String(decoding: request[0], as: UTF8.self) == "1.0" else {
            refused += 1
            return [
                Array("1.0".utf8), request.count > 1 ? request[1] : [], Array("400".utf8),
                Array("malformed request".utf8), [], [],
            ]
        }
        let mechanism = String(decoding: request[5], as: UTF8.self)
        let key = mechanism == "CURVE" && request.count >= 7 && request[6].count == 32 ? ZMQCurve.z85(request[6]) : nil
        let allowed = key.map { allowedClientKeys.contains($0) } ?? false
        if allowed {
            accepted += 1
        } else {
            refused += 1
            onRefusal?(key ?? "", String(decoding: request[3], as: UTF8.self))
        }
        return [
            Array("1.0".utf8), request[1], Array((allowed ? "200" : "400").utf8),
            Array((allowed ? "OK" : "client key not allowed").utf8), Array((key ?? "").utf8), [],
        ]
    }

    /// Stops answering and closes the endpoint. Note libzmq's rule: a CURVE server whose context
    /// has no ZAP handler accepts any client that knows its public key, unless the server socket
    /// sets `ZMQ_ZAP_ENFORCE_DOMAIN`.
    public func stop() async {
        await handler?.kill()
        handler = nil
        socket.close(linger: .zero)
    }
}
