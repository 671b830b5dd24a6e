import EventHubConnector

/// The one exported symbol of the shared library: hands the connector to ConnectorKit.
@_cdecl("callgate_plugin_negotiate")
public func callgatePluginNegotiate(_ offer: OpaquePointer?, _ answer: OpaquePointer?) -> Int32 {
    eventHubNegotiate(offer, answer)
}
