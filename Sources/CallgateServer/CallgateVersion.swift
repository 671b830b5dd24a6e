/// The gateway's release version, printed by `callgate version`.
public enum CallgateVersion {
    public static let current = "0.1.0"
}
