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
/// in the new reading are removed from the registry (a handler whose queue emptied disappears
/// instead of staying at its last depth, and names seen once do not pile up). The first dimension
/// is a handler name: past ``HandlerCounters/maximumHandlers`` names, the smallest are folded into
/// `other`, so one client cannot grow the scrape without bound.
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

    /// Sets every series from `reading` (dimension values → value), removing the ones left out.
    mutating func set(_ reading: [[String]: Double]) {
        var folded: [[String]: Double] = [:]
        let handlers = Dictionary(grouping: reading, by: { $0.key[0] }).mapValues { $0.reduce(0) { $0 + $1.value } }
        let kept = Set(handlers.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(HandlerCounters.maximumHandlers).map(\.key))
        for (values, value) in reading {
            var key = values
            if !kept.contains(values[0]) { key[0] = "other" }
            folded[key, default: 0] += value
        }
        for (values, gauge) in gauges where folded[values] == nil {
            gauge.destroy()
            gauges[values] = nil
        }
        for (values, value) in folded {
            let gauge =
                gauges[values]
                ?? Gauge(label: label, dimensions: Array(zip(dimensionNames, values)), factory: factory)
            gauges[values] = gauge
            gauge.record(value)
        }
    }
}
