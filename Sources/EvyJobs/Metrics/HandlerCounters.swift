import Metrics

/// Counters with a `handler` dimension, made on first use and kept. Handler names come from
/// clients, so at most ``maximumHandlers`` distinct names get their own series; the rest share
/// `handler="other"` (an unbounded label would let one client grow every scrape without limit).
///
/// Hub-confined, like the role that owns it; the counters themselves are thread-safe.
struct HandlerCounters {
    /// Distinct handler names with a series of their own.
    static let maximumHandlers = 256

    let label: String
    let factory: any MetricsFactory
    private var counters: [String: Counter] = [:]

    init(_ label: String, factory: any MetricsFactory) {
        self.label = label
        self.factory = factory
    }

    /// Adds `amount` to `handler`'s counter.
    mutating func increment(_ handler: String, by amount: Int = 1) {
        if let counter = counters[handler] { return counter.increment(by: amount) }
        let name = counters.count < Self.maximumHandlers ? handler : "other"
        let counter = counters[name] ?? Counter(label: label, dimensions: [("handler", name)], factory: factory)
        counters[name] = counter
        counter.increment(by: amount)
    }
}

/// Gauges keyed by a set of dimensions, set all at once from a fresh reading: series that are not
/// in the new reading go to zero (a handler whose queue emptied reads 0, not its last depth).
struct GaugeFamily {
    let label: String
    let factory: any MetricsFactory
    private var gauges: [[String]: Gauge] = [:]
    let dimensionNames: [String]

    init(_ label: String, dimensions: [String], factory: any MetricsFactory) {
        self.label = label
        self.dimensionNames = dimensions
        self.factory = factory
    }

    /// Sets every series from `reading` (dimension values → value), zeroing the ones left out.
    mutating func set(_ reading: [[String]: Double]) {
        for (values, gauge) in gauges where reading[values] == nil { gauge.record(0) }
        for (values, value) in reading.prefix(HandlerCounters.maximumHandlers * 4) {
            let gauge =
                gauges[values]
                ?? Gauge(label: label, dimensions: Array(zip(dimensionNames, values)), factory: factory)
            gauges[values] = gauge
            gauge.record(value)
        }
    }
}
