extension Array {
    /// The elements in consecutive slices of at most `size` (a list message's limit,
    /// ``MessageCodec/maxListCount``), in order; none for an empty array.
    func chunks(of size: Int = MessageCodec.maxListCount) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
