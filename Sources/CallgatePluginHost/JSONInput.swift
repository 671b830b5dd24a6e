import Foundation

/// Reads the small JSON objects that cross the ABI, with errors that name the field.
struct JSONInput {
    private let object: [String: Any]
    private let what: String

    init(_ bytes: [UInt8], what: String) throws {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw HostServiceError(status: PluginStatus.invalid, message: "\(what) is not a JSON object")
        }
        self.object = object
        self.what = what
    }

    func string(_ key: String) throws -> String {
        guard let value = try optionalString(key), !value.isEmpty else {
            throw HostServiceError(status: PluginStatus.invalid, message: "\(what): $.\(key) must be a non-empty string")
        }
        return value
    }

    func optionalString(_ key: String) throws -> String? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let text = value as? String else {
            throw HostServiceError(status: PluginStatus.invalid, message: "\(what): $.\(key) must be a string")
        }
        return text
    }

    func optionalInt(_ key: String) throws -> Int? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let number = value as? Int else {
            throw HostServiceError(status: PluginStatus.invalid, message: "\(what): $.\(key) must be an integer")
        }
        return number
    }

    /// The whole object as strings (labels, headers).
    func stringMap() throws -> [String: String] {
        guard let map = object as? [String: String] else {
            throw HostServiceError(status: PluginStatus.invalid, message: "\(what) must be an object of strings")
        }
        return map
    }

    func optionalStringMap(_ key: String) throws -> [String: String]? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let map = value as? [String: String] else {
            throw HostServiceError(status: PluginStatus.invalid, message: "\(what): $.\(key) must be an object of strings")
        }
        return map
    }
}

/// Writes the JSON that goes back across the ABI.
enum JSONOutput {
    static func encode(_ object: [String: any Sendable]) throws -> [UInt8] {
        Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }
}
