import CCallgatePlugin

/// The ABI versions this host speaks: every 1.x plugin.
public enum PluginABI {
    /// Lowest major loaded.
    public static let hostMinMajor = UInt16(CALLGATE_ABI_MAJOR)
    /// Highest major loaded.
    public static let hostMaxMajor = UInt16(CALLGATE_ABI_MAJOR)
    /// The minor of the header this host was built with.
    public static let hostMinor = UInt16(CALLGATE_ABI_MINOR)
    /// The majors as a range.
    public static var supportedMajors: ClosedRange<Int> { Int(hostMinMajor)...Int(hostMaxMajor) }
}
