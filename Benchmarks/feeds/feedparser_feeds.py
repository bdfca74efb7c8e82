"""The reference for `evy-bench feeds-distributed`: Python's feedparser polling the same feeds
(served by the same nginx) the way its users do it: feedparser.parse(url, etag=, modified=) from
a thread pool. Two passes: the first fetches and parses everything, the second sends the
validators of the first (conditional GETs, 304s). Prints one JSON object.

usage: feedparser_feeds.py URL_LIST [THREADS]
"""
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import feedparser


def main():
    urls = [line.strip() for line in open(sys.argv[1]) if line.strip()]
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    state = {}

    def poll(url):
        known = state.get(url, {})
        parsed = feedparser.parse(url, etag=known.get("etag"), modified=known.get("modified"))
        if parsed.get("status") == 200:
            state[url] = {"etag": parsed.get("etag"), "modified": parsed.get("modified")}
        return parsed.get("status"), len(parsed.entries)

    result = {}
    with ThreadPoolExecutor(threads) as pool:
        for number in (1, 2):
            start = time.perf_counter()
            polls = list(pool.map(poll, urls))
            seconds = time.perf_counter() - start
            result[f"pass{number}_seconds"] = seconds
            result[f"pass{number}_entries"] = sum(entries for status, entries in polls if status == 200)
            result[f"pass{number}_not_modified"] = sum(1 for status, _ in polls if status == 304)
    result["threads"] = threads
    print(json.dumps(result))


if __name__ == "__main__":
    main()
