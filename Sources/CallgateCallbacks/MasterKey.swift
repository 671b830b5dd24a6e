import Crypto
import Foundation

/// The key that seals signing-key secrets at rest: 32 random bytes in a 0600 file beside the
/// database, so that a copy of the database alone cannot mint callback URLs.
struct MasterKey: Sendable {
    let key: SymmetricKey

    /// Reads the key at `path`, creating it (mode 0600) when the file does not exist.
    static func loadOrCreate(at path: String) throws -> MasterKey {
        let fileManager = FileManager.default
        if fileManager.fileExists(atPath: path) {
            guard let data = fileManager.contents(atPath: path) else {
                throw CallbackError.masterKey("cannot read \(path)")
            }
            guard data.count == 32 else {
                throw CallbackError.masterKey("\(path) holds \(data.count) bytes, expected 32")
            }
            return MasterKey(key: SymmetricKey(data: data))
        }
        let key = SymmetricKey(size: .bits256)
        let data = key.withUnsafeBytes { Data($0) }
        let directory = (path as NSString).deletingLastPathComponent
        try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Created with 0600 from the start: the secret is never readable by others, even briefly.
        guard fileManager.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw CallbackError.masterKey("cannot create \(path)")
        }
        return MasterKey(key: key)
    }

    /// Seals a secret; the key id is authenticated so a sealed secret cannot be moved to another id.
    func seal(_ secret: SymmetricKey, keyID: String) throws -> Data {
        let plain = secret.withUnsafeBytes { Data($0) }
        guard let combined = try AES.GCM.seal(plain, using: key, authenticating: Data(keyID.utf8)).combined else {
            throw CallbackError.masterKey("sealing failed")
        }
        return combined
    }

    /// Opens a sealed secret, failing when the master key is not the one that sealed it.
    func open(_ sealed: Data, keyID: String) throws -> SymmetricKey {
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            return SymmetricKey(data: try AES.GCM.open(box, using: key, authenticating: Data(keyID.utf8)))
        } catch {
            throw CallbackError.masterKey("cannot open the secret of key '\(keyID)': wrong master key file?")
        }
    }
}
