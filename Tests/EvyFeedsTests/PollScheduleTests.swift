import EvyCrawl
import EvyFeeds
import Foundation
import XCTest

/// The pure parts of the feed scraper: when a feed is polled next, how a poll changes its state,
/// and which entries are the same.
final class PollScheduleTests: XCTestCase {
    private let schedule = PollSchedule()
    private let minute = Duration.seconds(60)

    func testAWorkingFeedIsPolledAsOftenAsItPublishedInTheLastWeekWithinTheBounds() {
        XCTAssertEqual(schedule.interval(entriesLastWeek: 7), .seconds(24 * 3600), "one a day: daily")
        XCTAssertEqual(schedule.interval(entriesLastWeek: 168), .seconds(3600), "one an hour: hourly")
        XCTAssertEqual(schedule.interval(entriesLastWeek: 100_000), minute * 5, "never sooner than the minimum")
        XCTAssertEqual(schedule.interval(entriesLastWeek: 0), .seconds(24 * 3600), "a quiet feed: the maximum")
    }

    func testWhatTheServerAsksForIsHonouredUpToTheMaximum() {
        XCTAssertEqual(schedule.interval(entriesLastWeek: 168, cacheSeconds: 7200), .seconds(7200))
        XCTAssertEqual(schedule.interval(entriesLastWeek: 168, cacheSeconds: 60), .seconds(3600), "never more often")
        XCTAssertEqual(schedule.interval(entriesLastWeek: 168, cacheSeconds: 999_999), .seconds(24 * 3600))
    }

    func testFailuresBackOffByDoublingButAFeedIsNeverGivenUp() {
        let backoffs = (1...12).map { schedule.interval(entriesLastWeek: 168, consecutiveErrors: $0) }
        XCTAssertEqual(backoffs.prefix(4), [minute * 5, minute * 10, minute * 20, minute * 40])
        XCTAssertEqual(backoffs.last, .seconds(24 * 3600), "capped at the maximum, still polled")
        XCTAssertEqual(
            schedule.interval(entriesLastWeek: 168, retryAfterSeconds: 3 * 3600, consecutiveErrors: 1), .seconds(3 * 3600),
            "Retry-After honoured")
    }

    // MARK: FeedState

    private func poll(_ configure: (inout FeedPoll) -> Void) -> FeedPoll {
        var poll = FeedPoll(feed: "http://a.example/feed", url: "http://a.example/feed")
        poll.status = 200
        configure(&poll)
        return poll
    }

    func testAPermanentRedirectIsAdoptedOnlyOnItsThirdSightingInARow() {
        var state = FeedState(id: 1, feed: "http://a.example/feed")
        let moved = poll { $0.permanentRedirect = "http://b.example/feed" }
        state.apply(moved, schedule: schedule, now: Date())
        state.apply(moved, schedule: schedule, now: Date())
        XCTAssertEqual(state.url, "http://a.example/feed", "not after two")
        state.apply(poll { _ in }, schedule: schedule, now: Date())  // a poll without it: the count starts again
        state.apply(moved, schedule: schedule, now: Date())
        state.apply(moved, schedule: schedule, now: Date())
        XCTAssertEqual(state.url, "http://a.example/feed")
        state.apply(moved, schedule: schedule, now: Date())
        XCTAssertEqual(state.url, "http://b.example/feed", "adopted on the third in a row")
        XCTAssertEqual(state.feed, "http://a.example/feed", "its identity stays")
        XCTAssertEqual(state.task.url, "http://b.example/feed")
    }

    func testGoneStopsTheFeedAndOtherFailuresAreCountedAndKeptUntilAPollWorks() {
        var state = FeedState(id: 1, feed: "http://a.example/feed")
        let now = Date(timeIntervalSince1970: 1_000_000)
        state.apply(poll { $0.status = 500; $0.error = "HTTP 500" }, schedule: schedule, now: now)
        state.apply(poll { $0.status = 500; $0.error = "HTTP 500" }, schedule: schedule, now: now)
        XCTAssertEqual(state.errors, 2)
        XCTAssertEqual(state.lastError, "HTTP 500")
        XCTAssertEqual(state.status, .active, "a failing feed is still polled")
        XCTAssertEqual(state.nextPoll, now.timeIntervalSince1970 + 600, "the second failure waits 10 minutes")
        state.apply(poll { $0.keys = ["k1"] }, schedule: schedule, now: now)
        XCTAssertEqual(state.errors, 0)
        XCTAssertNil(state.lastError)
        state.apply(poll { $0.status = 410; $0.error = "HTTP 410 Gone" }, schedule: schedule, now: now)
        XCTAssertEqual(state.status, .gone)
        XCTAssertEqual(state.polls, 4)
    }

    func testANotModifiedPollKeepsTheEntriesSeenAndTheRate() {
        var state = FeedState(id: 1, feed: "http://a.example/feed")
        state.apply(
            poll {
                $0.keys = ["new", "old"]
                $0.etag = "\"v1\""
                $0.entriesLastWeek = 168
            }, schedule: schedule, now: Date())
        XCTAssertEqual(state.seen, ["new", "old"])
        state.apply(poll { $0.status = 304; $0.notModified = true; $0.etag = "\"v1\"" }, schedule: schedule, now: Date())
        XCTAssertEqual(state.seen, ["new", "old"])
        XCTAssertEqual(state.task.etag, "\"v1\"")
        XCTAssertEqual(state.nextPoll - state.lastPoll, 3600, accuracy: 0.001, "hourly, from the last full fetch")
        state.apply(poll { $0.keys = ["newer", "new"] }, schedule: schedule, now: Date())
        XCTAssertEqual(state.seen, ["newer", "new", "old"], "the document's keys first, older ones kept")
    }

    // MARK: EntryKey

    func testEntriesAreTheSameByIdThenLinkThenContent() {
        let byID = FeedEntry(title: "a", link: "http://x/1", id: "tag:1")
        XCTAssertEqual(EntryKey.of(byID), EntryKey.of(FeedEntry(title: "changed", link: "http://x/2", id: "tag:1")))
        XCTAssertNotEqual(EntryKey.of(byID), EntryKey.of(FeedEntry(title: "a", link: "http://x/1", id: "tag:2")))
        let byLink = FeedEntry(title: "a", link: "http://x/1")
        XCTAssertEqual(EntryKey.of(byLink), EntryKey.of(FeedEntry(title: "b", link: "http://x/1")))
        let byContent = FeedEntry(title: "a", summary: "text")
        XCTAssertEqual(EntryKey.of(byContent), EntryKey.of(FeedEntry(title: "a", summary: "text")))
        XCTAssertNotEqual(EntryKey.of(byContent), EntryKey.of(FeedEntry(title: "a", summary: "other")))
        XCTAssertEqual(EntryKey.of(byID).count, 16)
    }

    func testATasksHandWrittenJSONIsWhatItsDecoderReads() throws {
        let tasks = [
            FeedTask(feed: "http://a.example/feed?x=\"1\"", etag: "W/\"abc\"", lastModified: "Mon, 30 Nov 2026", seen: ["0011", "ffee"]),
            FeedTask(feed: "http://b.example/\u{1}é", url: "http://c.example/"),
        ]
        for task in tasks {
            XCTAssertEqual(try JSONDecoder().decode(FeedTask.self, from: Data(task.json)), task)
            XCTAssertEqual(try JSONDecoder().decode(FeedTask.self, from: try JSONEncoder().encode(task)), task)
        }
        var poll = FeedPoll(feed: "f", url: "u")
        poll.keys = ["01", "02"]
        poll.entries = [FeedItem(feed: "f", key: "01", id: "1", title: "t")]
        let decoded = try JSONDecoder().decode(FeedPoll.self, from: try JSONEncoder().encode(poll))
        XCTAssertEqual(decoded, poll)
        XCTAssertEqual(decoded.newEntries, 1)
    }

    // MARK: OPML

    func testOPMLListsEveryFeedOfNestedFoldersAndRoundTrips() throws {
        let text = """
            <?xml version="1.0"?><opml version="2.0"><head><title>Mine</title></head><body>
            <outline text="News"><outline text="A &amp; B" xmlUrl="http://a.example/feed" htmlUrl="http://a.example/"/>
            <outline text="Deeper"><outline title="C" xmlUrl=" http://c.example/rss "/></outline></outline>
            <outline text="no feed here"/><outline text="D" xmlUrl="http://d.example/atom"/></body></opml>
            """
        let list = try OPML(data: Array(text.utf8))
        XCTAssertEqual(list.title, "Mine")
        XCTAssertEqual(list.feeds.map(\.url), ["http://a.example/feed", "http://c.example/rss", "http://d.example/atom"])
        XCTAssertEqual(list.feeds[0].title, "A & B")
        XCTAssertEqual(list.feeds[0].homePage, "http://a.example/")
        let again = try OPML(data: Array(OPML.document(title: "Mine", feeds: list.feeds).utf8))
        XCTAssertEqual(again.feeds, list.feeds)
        XCTAssertThrowsError(try OPML(data: Array("<rss/>".utf8)))
        XCTAssertThrowsError(try OPML(data: Array("garbage".utf8)))
    }
}
