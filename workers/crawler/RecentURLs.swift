import DequeModule

/// The URLs a crawl submitted lately, at most `capacity` of them (the oldest forgotten first):
/// a shortcut past the frontier for the duplicates that make up most links (a link to a page
/// already submitted in this run is skipped here instead of costing a round trip to the
/// dispatcher). Exact for what it holds; a URL it has forgotten goes to the dispatcher, whose
/// dedup keys on disk are the crawl's one complete seen set. Not thread-safe (one crawl's hub).
struct RecentURLs {
    private var members = Set<String>()
    private var order = Deque<String>()
    /// The most URLs kept.
    let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Adds `url`; false if it was there already.
    mutating func insert(_ url: String) -> Bool {
        guard members.insert(url).inserted else { return false }
        order.append(url)
        if order.count > capacity, let oldest = order.popFirst() { members.remove(oldest) }
        return true
    }
}
